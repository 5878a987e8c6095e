"""Phrases mined in round 3 (lexicon/*.toml, the section 'Mined, round 3'): sources (or files of them) no group,
rule or corpus entry cited before. Each reply below is the software's own string (its placeholders filled with
documentation values), and only the round-3 phrases read it right: with every wording rule off, the lexicon decides
it. An empty context is a reply to a command the server did not recognize."""

from __future__ import annotations

import pytest

from probe.diagnosis.catalogue import load
from probe.diagnosis.classifier import diagnose
from probe.diagnosis.codes import parse
from probe.model import Context, Reason


@pytest.mark.parametrize(("text", "context", "reason"), [
    # qpsmtpd lib/Qpsmtpd/SMTP.pm and its plugins
    ("450 Connection from you temporarily denied, bye bye.", "banner", Reason.POLICY_REJECTED),
    ("450 No plugin decided if relaying is allowed", "RCPT", Reason.SYSTEM_ERROR),
    ("521 Closing connection, 4 unrecognized commands. Perhaps you should read RFC 2821?", "", Reason.RATE_LIMITED),
    ("450 This mail is temporarily denied", "RCPT", Reason.GREYLISTED),
    ("552 Headers are missing", "after-DATA", Reason.CONTENT_REJECTED),
    ("550 You were naughty. You cannot connect for 1.00 more days.", "banner", Reason.BAD_REPUTATION),
    ("550 Command refused due to lack of security", "MAIL", Reason.TLS_REQUIRED),
    ("421 Cannot establish SSL session", "STARTTLS", Reason.TLS_FAILURE),
    ("451 Unable to scan for viruses", "after-DATA", Reason.SYSTEM_ERROR),
    ("451 Server load too high, please try again later.", "banner", Reason.SERVICE_UNAVAILABLE),
    ("550 mailing lists do not accept null senders", "RCPT", Reason.SENDER_REJECTED),
    ("552 We do not accept password-protected zip files!", "after-DATA", Reason.CONTENT_REJECTED),
    # iRedAPD libs/__init__.py SMTP_ACTIONS and default_settings.py, after Postfix's "Recipient address rejected:"
    ("554 5.7.1 <list@example.org>: Recipient address rejected: Policy rejection due to null sender",
     "RCPT", Reason.SENDER_REJECTED),
    ("451 4.7.1 <user@example.org>: Recipient address rejected: Intentional policy rejection, please try again later",
     "RCPT", Reason.GREYLISTED),
    # PHPMailer language strings (src/PHPMailer.php, language/phpmailer.lang-de, -es, -zh_cn, -ja)
    ("SMTP Error: Could not authenticate.", "bounce", Reason.CREDENTIALS_INVALID),
    ("SMTP Error: Could not connect to SMTP host.", "bounce", Reason.NETWORK_ERROR),
    ("SMTP-Fehler: Konnte keine Verbindung zum SMTP-Host herstellen.", "bounce", Reason.NETWORK_ERROR),
    ("Error SMTP: Imposible conectar al servidor SMTP.", "bounce", Reason.NETWORK_ERROR),
    ("SMTP 错误：登录失败。", "bounce", Reason.CREDENTIALS_INVALID),
    ("SMTPエラー: SMTPホストに接続できませんでした。", "bounce", Reason.NETWORK_ERROR),
    # nodemailer lib/smtp-connection/index.js
    ("Error: Greeting never received", "bounce", Reason.NETWORK_ERROR),
    ("Error: Error upgrading connection with STARTTLS", "bounce", Reason.TLS_FAILURE),
    # Citadel citadel/modules/smtp/serv_smtp.c
    ("550 You must log in to send mail on this port.", "RCPT", Reason.AUTH_REQUIRED),
    ("551 <user@example.net> - you do not have permission to send Internet mail", "RCPT", Reason.POLICY_REJECTED),
    ("504 Already logged in.", "AUTH", Reason.BAD_SEQUENCE),
    # msmtp src/msmtp.c, net.c and its po/fr.po, po/ru.po translations
    ("msmtp: the server does not support TLS via the STARTTLS command", "bounce", Reason.TLS_FAILURE),
    ("msmtp: cannot locate host mail.example.org: host not found (nonauthoritative) or server failure",
     "bounce", Reason.DNS_ERROR),
    ("msmtp: the server does not support DSN", "bounce", Reason.NOT_IMPLEMENTED),
    ("msmtp: réseau inaccessible", "bounce", Reason.NETWORK_ERROR),
    ("msmtp: сбой аутентификации (метод PLAIN)", "bounce", Reason.CREDENTIALS_INVALID),
    # haraka-plugin-relay, haraka-plugin-rcpt-ldap
    ("550 Mail for that recipient is not accepted here.", "RCPT", Reason.RELAY_DENIED),
    ("450 Backend failure. Please, retry later", "RCPT", Reason.SYSTEM_ERROR),
    # Exim transports/appendfile.c, host.c
    ("failed to lock mailbox /var/mail/user (lock file)", "bounce", Reason.SYSTEM_ERROR),
    ("no IP address found for host mx.example.net", "bounce", Reason.DOMAIN_UNKNOWN),
    # Sendmail map.c, headers.c, srvrsmtp.c
    ("451 4.3.5 NIS map mail.aliases specified, but NIS not running", "RCPT", Reason.SYSTEM_ERROR),
    ("553 5.3.0 header syntax error, line \"From: \"", "after-DATA", Reason.CONTENT_REJECTED),
    ("501 5.0.0 Missing recipient", "RCPT", Reason.SYNTAX_ERROR),
    # indimail-mta indimail-mta-x/smtpd.c
    ("451 SPF lookup failure (#4.3.0)", "MAIL", Reason.DNS_ERROR),
    ("553 sorry, helo domain must exist (#5.1.8)", "MAIL", Reason.HELO_REJECTED),
    ("550 we don't relay (#5.7.1)", "RCPT", Reason.RELAY_DENIED),
    ("553 sorry, this MTA does not accept masquerading/forging (#5.7.1)", "MAIL", Reason.SENDER_REJECTED),
    ("553 sorry, your HELO/EHLO greeting is in my badhelo list (#5.7.1)", "MAIL", Reason.HELO_REJECTED),
    # mhale/smtpd smtpd.go; policyd-rate-limit src/cli/actions/run.rs
    ("421 4.4.2 mx.example.org ESMTP Service closing transmission channel after timeout exceeded",
     "DATA", Reason.NETWORK_ERROR),
    ("554 5.7.1 <user@example.org>: Recipient address rejected: sending limit exceeded", "RCPT", Reason.RATE_LIMITED),
    # Angus Mail (Jakarta Mail) SMTPTransport.java
    ("jakarta.mail.MessagingException: STARTTLS is required but host does not support STARTTLS",
     "bounce", Reason.TLS_FAILURE),
    ("jakarta.mail.MessagingException: Unknown SMTP host: smtp.example.org", "bounce", Reason.DOMAIN_UNKNOWN),
    # sagredo-dev/qmail qmail-smtpd.c and chkuser_settings.h
    ("421 null senders temporarily denied (#4.3.0)", "MAIL", Reason.SENDER_REJECTED),
    ("421 you have exceeded your messaging limits (#4.3.0)", "MAIL", Reason.RATE_LIMITED),
    ("538 auth not available without TLS (#5.3.3)", "AUTH", Reason.TLS_REQUIRED),
    ("550 5.1.2 sorry, you must specify a domain (chkuser)", "RCPT", Reason.BAD_ADDRESS),
    # FTGate service error messages (docs.ftgate.com)
    ("452 Out of disk space (#1.03)", "RCPT", Reason.STORAGE_FULL),
    ("451 4.2.2 user@example.org mailbox access error (#3.15)", "RCPT", Reason.SYSTEM_ERROR),
    # dma crypto.c; nullmailer lib/errcodes.cc; go-mail smtp/smtp.go (Go net/smtp)
    ("remote delivery deferred: SSL handshake failed fatally: error:0A000086:SSL routines::certificate verify failed",
     "bounce", Reason.TLS_FAILURE),
    ("Host has no address", "bounce", Reason.DOMAIN_UNKNOWN),
    ("smtp: server doesn't support AUTH", "bounce", Reason.NOT_IMPLEMENTED),
    # Dovecot lib-smtp/smtp-client-connection.c
    ("451 4.4.0 Failed to connect to remote server", "MAIL", Reason.NETWORK_ERROR),
    ("451 4.4.0 Failed to lookup remote server", "MAIL", Reason.DNS_ERROR),
    ("454 4.7.0 Internal authentication failure", "AUTH", Reason.SYSTEM_ERROR),
    # OpenSMTPD filter-clamav
    ("451 4.7.1 Virus filter failed", "after-DATA", Reason.SYSTEM_ERROR),
    # Dada Mail bounce_handler_rules.pl
    ("550 Sender is on user denylist", "RCPT", Reason.SENDER_REJECTED),
    # smtprelay main.go
    ("554 There are no appropriate remote_host or command", "RCPT", Reason.SYSTEM_ERROR),
    # Apache James fast-fail handlers
    ("451 4.7.1 Temporary rejected: Reconnect to fast. Please try again later", "RCPT", Reason.GREYLISTED),
    ("503 5.7.1 Incorrect Authentication for Specified Email Address", "MAIL", Reason.SENDER_REJECTED),
    ("501 5.0.0 Provided EHLO/HELO example.invalid can not resolved.", "RCPT", Reason.HELO_REJECTED),
    # Kolab kolab_smtp_access_policy.py and po/de.po, po/fr.po
    ("554 5.7.1 <b@example.net>: Recipient address rejected: Sender a@example.org is not allowed to send to recipient b@example.net",
     "RCPT", Reason.POLICY_REJECTED),
    ("554 5.7.1 <b@example.net>: Recipient address rejected: Absender a@example.org darf nicht an Empfänger b@example.net senden",
     "RCPT", Reason.POLICY_REJECTED),
    ("554 5.7.1 <b@example.net>: Recipient address rejected: Expéditeur a@example.org n'est pas autorisé d'envoyer au destinateur b@example.net",
     "RCPT", Reason.POLICY_REJECTED),
    # MailCleaner exim_stage1.conf_template
    ("550 Encryption is required from your domain", "MAIL", Reason.TLS_REQUIRED),
    ("550 HELO/EHLO blocked", "MAIL", Reason.HELO_REJECTED),
    ("550 This domain does not accept mail from itself (spoofing)", "RCPT", Reason.SENDER_REJECTED),
    ("550 unauthenticated session on submission port", "MAIL", Reason.AUTH_REQUIRED),
    # GNU Mailman 3 runners/lmtp.py
    ("501 Message has defects", "after-DATA", Reason.CONTENT_REJECTED),
    # Evolution camel-smtp-transport.c (a reply without text: the code's meaning in the user's language), po/de, fr, es, ja
    ("RCPT TO <user@example.org> gescheitert: Angeforderte Aktion nicht ausgeführt: Postfach nicht verfügbar",
     "bounce", Reason.USER_UNKNOWN),
    ("La commande MAIL FROM a échoué\u00a0: Opération demandée non effectuée\u00a0: stockage système insuffisant",
     "bounce", Reason.STORAGE_FULL),
    ("Falló RCPT TO <user@example.org>: El usuario no es local; pruebe con <forward-path>", "bounce", Reason.HAS_MOVED),
    ("AUTH コマンドが失敗しました: 認証メカニズムは不十分過ぎます", "bounce", Reason.CREDENTIALS_INVALID),
    # NeoMutt send/smtp.c, conn/*.c and po/de, po/pl
    ("SMTP session failed: read error", "bounce", Reason.NETWORK_ERROR),
    ("Konnte keine TLS-Verbindung realisieren", "bounce", Reason.TLS_FAILURE),
    ("Sesja SMTP nie powiodła się: błąd odczytu", "bounce", Reason.NETWORK_ERROR),
    ("Certificate verification error (certificate has expired)", "bounce", Reason.TLS_FAILURE),
    # Claws Mail src/common/smtp.c, socket.c and po/es.po, po/ru.po
    ("Socket IO timeout.", "bounce", Reason.NETWORK_ERROR),
    ("no se pudo iniciar la sesión STARTTLS", "bounce", Reason.TLS_FAILURE),
    ("Соединение прервано удалённым узлом.", "bounce", Reason.NETWORK_ERROR),
])
def test_round3_reject_strings_are_read_by_their_words(text: str, context: str, reason: Reason) -> None:
    d = diagnose(parse(text), Context.parse(context) if context else None, catalogue=load(rules=""))
    assert d.reason is reason, d.decided_by
    assert d.decided_by is not None and d.decided_by.by == "lexicon", d.decided_by
