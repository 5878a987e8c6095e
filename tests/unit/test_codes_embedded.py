"""probe.diagnosis.codes.parse: the server's reply code inside pasted text, after the prefix a mail client, a
library, an MTA's log or a bounce generator prints before it.

Each case is one program's own format string (cited by file and line, or page) filled with a reply whose wording is
the RFC's own (RFC 5321 §4.2.2, RFC 4954 §6, RFC 3463 §3.2 and §3.8) or the one the source prints itself, with
documentation addresses. Formats that already worked are pinned too. The negative cases are numbers in the same
messages that are no reply code: a port, the code a client expected, another program's own number.
"""

from __future__ import annotations

import pytest

from probe.diagnosis.codes import parse

RFC_550 = "Requested action not taken: mailbox unavailable"  # RFC 5321 §4.2.2
RFC_554 = "Transaction failed"  # RFC 5321 §4.2.2
RFC_452 = "Requested action not taken: insufficient system storage"  # RFC 5321 §4.2.2
RFC_535 = "5.7.8 Authentication credentials invalid"  # RFC 4954 §6
X_1_1 = "5.1.1 Bad destination mailbox address"  # RFC 3463 §3.2
X_7_1 = "5.7.1 Delivery not authorized, message refused"  # RFC 3463 §3.8


@pytest.mark.parametrize(("text", "code", "enhanced"), [
    # PHPMailer src/SMTP.php:1158 (debug output 'SMTP ERROR: ' . error . ': ' . last_reply; github:PHPMailer/PHPMailer)
    (f"SMTP ERROR: RCPT TO command failed: 550 {X_1_1}", 550, "5.1.1"),
    (f"SMTP ERROR: DATA END command failed: 554 {RFC_554}", 554, None),
    # PHPMailer src/PHPMailer.php:4431-4439 setError, strings at :2520 and :2537-2541 (ErrorInfo)
    (f"SMTP Error: data not accepted. SMTP server error: DATA END command failed Detail: {RFC_554} SMTP code: 554",
     554, None),
    # NeoMutt send/smtp.c:193 mutt_error(_("SMTP session failed: %s"), buf) (github:neomutt/neomutt)
    (f"SMTP session failed: 550 {X_1_1}", 550, "5.1.1"),
    # msmtp src/msmtp.c:4347 print_error(_("server message: %s")) (github:marlam/msmtp)
    (f"msmtp: server message: 550 {RFC_550}", 550, None),
    # msmtp src/msmtp.c:1956 log line "smtpstatus=%s smtpmsg=%s " (the message in single quotes)
    (f"smtpstatus=550 smtpmsg='550 {RFC_550}' exitcode=EX_UNAVAILABLE", 550, None),
    # Nodemailer lib/smtp-connection/index.js:947 (message + ': ' + response) and :1862 (github:nodemailer/nodemailer)
    (f"Can't send mail - all recipients were rejected: 550 {RFC_550}", 550, None),
    (f"Invalid login: 535 {RFC_535}", 535, "5.7.8"),
    # Nodemailer lib/smtp-connection/index.js:1438 'Invalid greeting. response=' + str
    (f"Invalid greeting. response=554 {RFC_554}", 554, None),
    # Python smtplib (CPython Lib/smtplib.py): SMTPResponseException.args = (code, msg) (:102), raise SMTPDataError
    # (:908), SMTPRecipientsRefused.args = (recipients,) (:127); str() of the exception prints the tuple
    (f"smtplib.SMTPDataError: (554, b'{RFC_554}')", 554, None),
    (f"smtplib.SMTPAuthenticationError: (535, b'{RFC_535}')", 535, "5.7.8"),
    (f"smtplib.SMTPRecipientsRefused: {{'a@example.org': (550, b'{X_1_1}')}}", 550, "5.1.1"),
    # Roundcube program/localization/en_US/messages.inc:174 'SMTP Error ($code): Failed to add recipient "$to"
    # ($msg).' (github:roundcube/roundcubemail)
    (f'SMTP Error (550): Failed to add recipient "a@example.org" ({RFC_550}).', 550, None),
    # Roundcube messages.inc:178 'SMTP Error: $msg' with program/lib/Roundcube/rcube_smtp.php:328 '[%d] %s'
    (f"SMTP Error: [554] {X_7_1}", 554, "5.7.1"),
    # Roundcube rcube_smtp.php:595 "{$message}: {$err[1]} (Code: {$err[0]})" (its log)
    (f"Failed to add recipient 'a@example.org': {RFC_550} (Code: 550)", 550, None),
    # PEAR Mail Mail/smtp.php:557-559 " [SMTP: " . getMessage() . " (code: $code, response: $response)]"
    # (github:pear/Mail) with Net_SMTP Net/SMTP.php:404 'Invalid response code received from server'
    (f"Failed to add recipient: a@example.org [SMTP: Invalid response code received from server (code: 550, "
     f"response: {RFC_550})]", 550, None),
    # JavaMail / Angus Mail SMTPTransport.java:2231-2234 "Got bad greeting from SMTP host: " + host + ", port: " +
    # port + ", response: " + failResponse (github:eclipse-ee4j/angus-mail): the port is no reply code
    (f"Got bad greeting from SMTP host: smtp.example.org, port: 587, response: 554 {RFC_554}", 554, None),
    # Symfony Mailer SmtpTransport::assertResponseCode: 'Expected response code "%s" but got ' . 'code "%s"' .
    # ', with message "%s"' (github:symfony/symfony): the expected codes are no reply code
    (f'Expected response code "250/251/252" but got code "550", with message "550 {RFC_550}".', 550, None),
    ('Expected response code "235" but got code "535", with message "535 5.7.8 Authentication credentials '
     'invalid".', 535, "5.7.8"),
    # Swift Mailer AbstractSmtpTransport::assertResponseCode 'Expected response code ' . implode('/', $wanted) .
    # ' but got code "' . $code . '", with message "' . $response . '"' (github:swiftmailer/swiftmailer)
    (f'Expected response code 250 but got code "550", with message "550 {RFC_550}\r\n"', 550, None),
    # go-smtp data.go:33-36 SMTPError.Error(): "SMTP error %03d" + ": " + message (github:emersion/go-smtp)
    (f"SMTP error 550: {RFC_550}", 550, None),
    (f"SMTP error 452: {RFC_452}", 452, None),
    # go-mail senderror.go:93-98 reason + ':' + ' ' + error, SendErrReason.String "sending SMTP RCPT TO command"
    # (github:wneessen/go-mail)
    (f"sending SMTP RCPT TO command: 550 {X_1_1}, affected recipient(s): a@example.org", 550, "5.1.1"),
    # Exim src/src/transports/smtp.c:619 "SMTP error from remote mail server after %s%s: %s" (github:Exim/exim)
    (f"SMTP error from remote mail server after RCPT TO:<a@example.org>: 550 {RFC_550}", 550, None),
    (f"SMTP error from remote mail server after pipelined MAIL FROM:<b@example.net> SIZE=1234: 452 {RFC_452}",
     452, None),
    # Sendmail sendmail/usersmtp.c:3341-3352 transcript ">>> %s" then "<<< %s" (github:deepin-community/sendmail)
    (f"... while talking to mx.example.org.:\n>>> RCPT To:<a@example.org>\n<<< 550 {RFC_550}", 550, None),
    # Sendmail sendmail/deliver.c:4943-4950 log ", reply=%d %s%s%s"
    (f"to=<a@example.org>, delay=00:00:01, mailer=esmtp, dsn=5.0.0, stat=Service unavailable, reply=554 {RFC_554}",
     554, None),
    # Courier courier/module.dsn/dsn.C:562-565 " >>> %s" and " <<< %-1.500s" (github:svarshavchik/courier)
    (f"<a@example.org>: mx.example.org [192.0.2.1]:\n >>> RCPT TO:<a@example.org>\n <<< 550 {RFC_550}", 550, None),
    # Exim src/src/smtp_out.c:870 debug_printf_indent("  %s %s\n", ... "SMTP<<" ...): the replies `exim -v` shows
    (f"  SMTP>> RCPT TO:<a@example.org>\n  SMTP<< 550 {RFC_550}\n  SMTP>> QUIT", 550, None),
    # Claws Mail src/send_message.c:693 "Error occurred while sending the message:\n%s" (the reply on the next line)
    # and src/common/smtp.c:562 its protocol log "SMTP< %s" (github:eworm-de/claws-mail)
    (f"Error occurred while sending the message:\n550 {RFC_550}", 550, None),
    (f"[12:00:01] SMTP< 550 {RFC_550}", 550, None),
    # ssmtp ssmtp.c:1574 die("RCPT TO:<%s> (%s)", p, buf), die() printing "%s: %s\n" (github:TheJonny/debian-ssmtp)
    (f"ssmtp: RCPT TO:<a@example.org> (550 {RFC_550})", 550, None),
    # SnappyMail MailSo/Smtp/SmtpClient.php:311 "Failed to add recipient '{$sTo}'" and :599-602 prefix . ': ' .
    # response (github:the-djmaze/snappymail)
    (f"Failed to add recipient 'a@example.org': 550 {X_1_1}", 550, "5.1.1"),
    # K-9 Mail / Thunderbird for Android NegativeSmtpReplyException.kt:17-18 "Negative SMTP reply: $replyCode" when
    # the server sent no text (github:thunderbird/thunderbird-android)
    ("Negative SMTP reply: 550", 550, None),
    # Gmail's bounce, the reply on the line after "...was:": Sisimai lib/Sisimai/Lhost/Gmail.pm:59-64 and the
    # state table's examples at :86-90 (github:sisimai/p5-sisimai)
    ("The error that the other server returned was:\n550 5.1.1 <userunknown@example.jp>... User Unknown", 550, "5.1.1"),
    ("The error that the other server returned was:\n500 Remote server does not support TLS (state 6).", 500, None),
    # Coremail (NetEase 163.com) bounce: postalsys/emailengine test/fixtures/bounces/163.eml, as test/bounce-test.js
    # reads it
    ("SMTP error, RCPT TO: Host ethereal.email(54.36.85.113) RCPT TO said 550 No such user here", 550, None),
    # Yahoo's bounce "550: 5.1.1 ...": postalsys/emailengine test/bounce-test.js (fixture yahoo.eml)
    ("550: 5.1.1 <thgdcgrfchvutycfgxcvg@hot.ee>: Recipient address rejected: User unknown in relay recipient table",
     550, "5.1.1"),
    # flufl.bounce tests/data/bounce_02.txt (the corpus entry bounces-flufl-bounce-02)
    ("<user1@example.com>: Requested action not taken: mailbox unavailable. [SMTP Error Code 550]", 550, None),
    # Outlook Express 0x800CCC79 (http://www.ihmars.com/Irism/techtipOE550.htm): the quoted reply comes first
    ("The rejected e-mail address was 'anemail@anisp.net', Subject: 'Re: Whatever,', Account: 'mail.yourisp.net', "
     "Server: 'mail.yourisp.net', Protocol: SMTP, Server Response: '550 not local host anisp.net, not a gateway', "
     "Port 25, Secure (SSL): no, Server Error: 550, Error Number: 0x800CCC79.", 550, None),
])
def test_reply_code_after_a_programs_prefix(text: str, code: int, enhanced: str | None) -> None:
    p = parse(text)
    assert (p.code, p.enhanced) == (code, enhanced)


@pytest.mark.parametrize(("text", "enhanced"), [
    # .NET System.Net.Mail SmtpException.cs GetMessageForStatus(statusCode, serverResponse): the status's own text,
    # then Strings.resx MailServerResponse "The server response was: {0}" with the reply after its basic code
    # (github:dotnet/runtime)
    (f"Mailbox unavailable. The server response was: {X_1_1}", "5.1.1"),
    # Thunderbird mail/locales/en-US/chrome/messenger/messengercompose/composeMsgs.properties errorSendingMessage
    # "An error occurred while sending mail. The mail server responded:  %s. Please check the message and try again."
    # (github:mozilla/releases-comm-central)
    (f"An error occurred while sending mail. The mail server responded:  {X_7_1}. Please check the message and "
     "try again.", "5.7.1"),
])
def test_status_code_where_a_client_dropped_the_basic_code(text: str, enhanced: str) -> None:
    p = parse(text)
    assert (p.code, p.enhanced) == (None, enhanced)


@pytest.mark.parametrize(("text", "code", "enhanced"), [
    # JavaMail's port (Angus Mail SMTPTransport.java:2245-2246 "Could not connect to SMTP host: " + host + ", port: ")
    ("Could not connect to SMTP host: smtp.example.org, port: 465, response: -1", None, None),
    ("Could not connect to SMTP host: smtp.example.org, port: 587", None, None),
    # the codes Swift Mailer and Symfony Mailer expected, with no reply printed
    ("Expected response code 250 but got an empty response", None, None),
    ('Expected response code "250" but got empty code.', None, None),
    # Orange's own error numbers after its French and English text (corpus entries intl-fr-009, intl-fr-019)
    ("5.1.0 Emetteur invalide. Invalid Sender. OFR004_405 [405]", None, "5.1.0"),
    ("Taille limite du message atteinte. Maximum size of the message reached. OFR_514 [514].", None, None),
    # a number in parentheses or a list is not a reply code without a prefix that names it
    ("delivery attempts: (250), retried", None, None),
    ("SMTP error, retried 3 times (250, 421)", None, None),
    # the count in Postfix smtpd's anvil warnings (smtpd.c msg_warn "Message delivery request rate limit exceeded:
    # %d from %s for service %s", "Connection rate limit exceeded: ...", "Connection concurrency limit exceeded: ...")
    ("warning: Message delivery request rate limit exceeded: 334 from unknown[192.0.2.1] for service smtp", None, None),
    ("warning: Connection concurrency limit exceeded: 251 from unknown[192.0.2.1] for service smtp", None, None),
    # a host and port, a time, a version
    ("connect to mx.example.org:587: Connection refused", None, None),
    ("retry at 10:450 deferred", None, None),
    ("SMTP 2.0 ready", None, None),
])
def test_numbers_that_are_no_reply_code(text: str, code: int | None, enhanced: str | None) -> None:
    p = parse(text)
    assert (p.code, p.enhanced) == (code, enhanced)


def test_the_embedded_code_keeps_the_enhanced_code_of_its_class_only() -> None:
    # smtplib's tuple with a status code of another class after it: the code stays, the status code goes
    p = parse("smtplib.SMTPDataError: (554, b'4.7.1 Delivery not authorized, message refused')")
    assert (p.code, p.enhanced) == (554, None)
