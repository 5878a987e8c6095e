"""Phrases mined in round 4 (lexicon/*.toml, the sections 'Mined, round 4'): sources no group, rule or corpus entry
cited before, each read for its whole reply table. Each reply below is the software's own string (its placeholders
filled with documentation values) that the catalogue before round 4 read wrong with every wording rule off; only the
round-4 phrases read it right: with the wording rules off, the lexicon decides it. An empty context is a reply to a
command the server did not recognize."""

from __future__ import annotations

import pytest

from probe.diagnosis.catalogue import load
from probe.diagnosis.classifier import diagnose
from probe.diagnosis.codes import parse
from probe.model import Context, Reason


@pytest.mark.parametrize(("text", "context", "reason"), [
    # Spamilter src/hndlrs.c (github:nkhorman/spamilter)
    # set in mlfi_envfrom when no HELO came at all: MAIL before HELO (SPEC bad_sequence), no HELO name refused
    ('550 5.7.1 Rejecting due to security policy - Helo or Ehlo MTA greeting expected, Please see: http://example.org/policy.html#helo', 'MAIL', Reason.BAD_SEQUENCE),
    ('451 4.7.1 Temporary failure - Unable to validate Sender address a@example.org, Please see: http://example.org/policy.html#tempfailinvalidsender', 'MAIL', Reason.SENDER_REJECTED),
    ('550 5.7.1 Rejecting due to security policy - Unable to validate Sender address a@example.org, Please see: http://example.org/policy.html#invalidsender', 'MAIL', Reason.SENDER_REJECTED),
    ('550 5.7.1 Rejecting due to security policy - Recipient has been blacklisted, Please see: http://example.org/policy.html#blacklistedrecipient', 'RCPT', Reason.POLICY_REJECTED),
    ('550 5.7.1 Rejecting due to security policy - unathorized sender', 'RCPT', Reason.SENDER_REJECTED),
    ('451 4.7.1 Temporary failure - Unable to validate recipient, Please see: http://example.org/policy.html#tempfailinvalidrecipient', 'RCPT', Reason.SYSTEM_ERROR),
    ('550 5.7.1 Rejecting due to security policy - Recipient undeliverable, Please see: http://example.org/policy.html#undeliverablerecipient', 'RCPT', Reason.USER_UNKNOWN),
    ('550 5.7.1 Rejecting due to security policy - Inline executable attachement, Please see: http://example.org/policy.html#attachmentinline', 'after-DATA', Reason.CONTENT_REJECTED),
    ("550 5.7.1 Rejecting due to security policy - Ip address used as MTA hostname '192.0.2.1', Please see: http://example.org/policy.html#ipusedashostname", 'MAIL', Reason.HELO_REJECTED),
    ("550 5.7.1 Rejecting due to security policy - Invalid source hostname 'foo', Please see: http://example.org/policy.html#invalidsourcehostname", 'MAIL', Reason.HELO_REJECTED),
    ('450 4.7.1 Temporary failure - Grey Listed', 'RCPT', Reason.GREYLISTED),
    ('550 5.7.1 Rejecting due to security policy - Executable attachement, Please see: http://example.org/policy.html#attachmentbody', 'after-DATA', Reason.CONTENT_REJECTED),
    ('550 5.7.1 Rejecting due to security policy - Content violation', 'after-DATA', Reason.CONTENT_REJECTED),
    # bms.py (github:sdgathman/milter) and template.py (github:sdgathman/pymilter)
    ('550 5.7.1 hello name cannot be numeric ip', 'HELO', Reason.HELO_REJECTED),
    ('550 5.7.1 Your mail server lies.  Its name is *not* example.org.', 'HELO', Reason.HELO_REJECTED),
    ('550 5.7.1 Bad MFROM signature', 'MAIL', Reason.SENDER_REJECTED),
    ("550 5.7.1 We don't accept internal mail from example.org", 'MAIL', Reason.SENDER_REJECTED),
    ('450 4.3.0 We cannot accept your email until the DNS server for example.org is operational for TXT record queries.', 'MAIL', Reason.DNS_ERROR),
    ('550 5.7.1 Invalid RCPT PARAM', 'RCPT', Reason.SYNTAX_ERROR),
    ('550 5.7.1 Invalid SRS signature', 'RCPT', Reason.SENDER_REJECTED),
    ('550 5.7.1 Sending domain has been blacklisted', 'RCPT', Reason.SENDER_REJECTED),
    ('550 5.7.1 example.org has been sending mostly spam', 'RCPT', Reason.BAD_REPUTATION),
    ('550 5.7.1 That subject is not allowed', 'after-DATA', Reason.CONTENT_REJECTED),
    ("550 5.7.1 We don't understand that charset", 'after-DATA', Reason.CONTENT_REJECTED),
    ('550 5.7.1 No soliciting allowed', 'after-DATA', Reason.SPAM_DETECTED),
    ('550 5.7.1 Your Message looks spammy', 'after-DATA', Reason.SPAM_DETECTED),
    ('550 5.7.1 Sender email local blacklist', 'after-DATA', Reason.SENDER_REJECTED),
    ('550 5.7.1 DSN to multiple recipients', 'after-DATA', Reason.CONTENT_REJECTED),
    ('450 4.2.0 Too busy discarding spam.  Please try again later.', 'after-DATA', Reason.SERVICE_UNAVAILABLE),
    ('550 5.7.1 Callback failure', 'MAIL', Reason.SENDER_REJECTED),
    ('550 5.7.1 Sheesh people!  Use a proper helo name!', 'HELO', Reason.HELO_REJECTED),
    # masqmail src/smtp_in.c (github:ossilator/masqmail)
    ('501 empty recipient address', 'RCPT', Reason.SYNTAX_ERROR),
    # vexim2 docs/vexim-acl-check-*.conf (github:vexim/vexim2)
    ('550 Sender openly considers message as spam (X-Spam-Flag header with a positive value was found).', 'after-DATA', Reason.SPAM_DETECTED),
    ('550 Blacklisted file extension detected in "a.exe". If you legitimately need to send these files please use a compressed archive or a file exchange provider.', 'after-DATA', Reason.CONTENT_REJECTED),
    # mailfront (github:bruceg/mailfront): protocol-smtp.c, backend-qmail.c, plugin-*.c
    ('554 5.1.2 Sender contains a disallowed domain', 'MAIL', Reason.SENDER_REJECTED),
    ('451 4.3.0 Could not resolve virus scanner hostname', 'after-DATA', Reason.SYSTEM_ERROR),
    ('451 4.3.0 Could not virus scan message', 'after-DATA', Reason.SYSTEM_ERROR),
    ('421 4.3.0 Failed to initialize AUTH', 'AUTH', Reason.SYSTEM_ERROR),
    ('503 5.5.0 Too many unimplemented commands.', '', Reason.RATE_LIMITED),
    # XMail SMTPSvr.cpp and Errors.cpp (github:GerHobbelt/xmail)
    ('504 You did not authenticate properly using SMTP-after-POP3', 'MAIL', Reason.AUTH_REQUIRED),
    ('505 Your domain has no DNS/MX entries', 'MAIL', Reason.SENDER_REJECTED),
    ('551 Server use forbidden', 'MAIL', Reason.POLICY_REJECTED),
    ('Server registered spammer domain', 'bounce', Reason.SENDER_REJECTED),
    ('User maximum mailbox size reached', 'bounce', Reason.MAILBOX_FULL),
    ('Remote server does not support TLS', 'bounce', Reason.TLS_FAILURE),
    ('Remote domain has no DNS/MX entries', 'bounce', Reason.DOMAIN_UNKNOWN),
    ('DNS name not exist', 'bounce', Reason.DOMAIN_UNKNOWN),
    ('Error connecting to remote address', 'bounce', Reason.NETWORK_ERROR),
    ('DNS query refused', 'bounce', Reason.DNS_ERROR),
    ('454 TLS link already active', 'STARTTLS', Reason.BAD_SEQUENCE),
    # vpopmail vdelivermail.c (github:DerDakon/vpopmail)
    ('Auto creation of maildir failed. vpopmail (#5.9.8)', 'bounce', Reason.SYSTEM_ERROR),
    ('vdelivermail: invalid syntax in .qmail-default file', 'bounce', Reason.SYSTEM_ERROR),
    # Thunderbird composeMsgs.properties: en-US (github:mozilla/releases-comm-central), de, fr, es-ES, it, pl, pt-BR, nl (github:thunderbird/thunderbird-l10n); a client's text around the server's reply
    ("An error occurred while sending mail: Unable to establish a secure link with Outgoing server (SMTP) smtp.example.org using STARTTLS since it doesn't advertise that feature. Switch off STARTTLS for that server or contact your service provider.", 'bounce', Reason.TLS_FAILURE),
    ('The message could not be sent because connecting to Outgoing server (SMTP) smtp.example.org failed. The server may be unavailable or is refusing SMTP connections. Please verify that your Outgoing server (SMTP) settings are correct and try again.', 'bounce', Reason.NETWORK_ERROR),
    ('An error occurred while sending mail: Outgoing server (SMTP) smtp.example.org is unknown. The server may be incorrectly configured. Please verify that your Outgoing server (SMTP) settings are correct and try again.', 'bounce', Reason.DOMAIN_UNKNOWN),
    ("Unable to authenticate to Outgoing server (SMTP) smtp.example.org. Please check the password and verify the 'Authentication method' in 'Account Settings | Outgoing server (SMTP)'.", 'bounce', Reason.CREDENTIALS_INVALID),
    ('Unable to authenticate to Outgoing server (SMTP) smtp.example.org. It does not support authentication (SMTP-AUTH) but you have chosen to use authentication.', 'bounce', Reason.NOT_IMPLEMENTED),
    ('There are non-ASCII characters in the local part of the recipient address jürgen@example.org. This is not yet supported. Please change this address and try again.', 'bounce', Reason.BAD_ADDRESS),
    ('Die Nachricht konnte nicht gesendet werden, weil die Verbindung mit dem SMTP-Server smtp.example.org mitten in der Transaktion verloren wurde. Versuchen Sie es nochmals.', 'bounce', Reason.NETWORK_ERROR),
    ('Fehler beim Senden der Nachricht: Eine sichere Verbindung mit dem SMTP-Server smtp.example.org kann nicht mit STARTTLS aufgebaut werden, da der Server diese Funktion nicht angibt.', 'bounce', Reason.TLS_FAILURE),
    ('Der Postausgangs-Server (SMTP) smtp.example.org kann nicht authentifiziert werden. Bitte überprüfen Sie das Passwort und die gewählte „Authentifizierungsmethode“ unter „Konten-Einstellungen | Postausgangs-Server (SMTP)“.', 'bounce', Reason.CREDENTIALS_INVALID),
    ('Der SMTP-Server smtp.example.org unterstützt die gewählte Authentifizierungsmethode nicht.', 'bounce', Reason.NOT_IMPLEMENTED),
    ('Impossible de s’authentifier sur le serveur sortant (SMTP) smtp.example.org. Veuillez vérifier votre mot de passe.', 'bounce', Reason.CREDENTIALS_INVALID),
    ('El mensaje no se ha podido enviar porque ha caducado la conexión al servidor de salida (SMTP) smtp.example.org. Vuelva a intentarlo.', 'bounce', Reason.NETWORK_ERROR),
    ('Ha ocurrido un error al enviar el mensaje: no es posible establecer un enlace seguro con el servidor de salida (SMTP) smtp.example.org usando STARTTLS ya que no anuncia ese mecanismo.', 'bounce', Reason.TLS_FAILURE),
    ('Non è stato possibile inviare il messaggio perché la connessione al server di posta in uscita (SMTP) smtp.example.org è stata interrotta durante la trasmissione. Riprova.', 'bounce', Reason.NETWORK_ERROR),
    ('Autenticazione non riuscita col server di posta in uscita (SMTP) smtp.example.org. Controllare la password e verificare il “Metodo di autenticazione”.', 'bounce', Reason.CREDENTIALS_INVALID),
    ('Wysyłanie wiadomości się nie powiodło, ponieważ upłynął limit czasu połączenia z serwerem smtp.example.org poczty wychodzącej (SMTP).', 'bounce', Reason.NETWORK_ERROR),
    ('Ocorreu um erro ao enviar mensagem: não foi possível estabelecer uma conexão segura com o servidor de envio (SMTP) smtp.example.org usando STARTTLS, uma vez que ele não anuncia esta funcionalidade.', 'bounce', Reason.TLS_FAILURE),
    ('O servidor de envio (SMTP) smtp.example.org não oferece suporte ao método de autenticação selecionado.', 'bounce', Reason.NOT_IMPLEMENTED),
    ('Het bericht kon niet worden verzonden, omdat het verbinden met uitgaande (SMTP-)server smtp.example.org is mislukt. Mogelijk is de server niet beschikbaar of weigert SMTP-verbindingen.', 'bounce', Reason.NETWORK_ERROR),
    ('Kan niet authenticeren bij uitgaande (SMTP-)server smtp.example.org. Controleer het wachtwoord en verifieer de ‘Authenticatiemethode’.', 'bounce', Reason.CREDENTIALS_INVALID),
    # .NET System.Net.Mail Strings.resx (github:dotnet/runtime)
    ('System.Net.Mail.SmtpException: Server does not support secure connections.', 'bounce', Reason.TLS_FAILURE),
    ('System.Net.Mail.SmtpException: The SMTP host was not found.', 'bounce', Reason.DOMAIN_UNKNOWN),
    ('System.Net.Mail.SmtpException: The client or server is only configured for E-mail addresses with ASCII local-parts: jürgen@example.org.', 'bounce', Reason.BAD_ADDRESS),
    ('System.IO.IOException: Unable to read data from the transport connection: An existing connection was forcibly closed by the remote host.', 'bounce', Reason.NETWORK_ERROR),
    # MailKit SmtpClient.cs, SmtpStream.cs, SslHandshakeException.cs (github:jstedfast/MailKit)
    ('MailKit.Net.Smtp.SmtpProtocolException: The SMTP server has unexpectedly disconnected.', 'bounce', Reason.NETWORK_ERROR),
    ('System.NotSupportedException: The SMTP server does not support the STARTTLS extension.', 'bounce', Reason.TLS_FAILURE),
    ('MailKit.Security.SslHandshakeException: An error occurred while attempting to establish an SSL or TLS connection.', 'bounce', Reason.TLS_FAILURE),
    ('MailKit.Security.AuthenticationException: No compatible authentication mechanisms found.', 'bounce', Reason.NOT_IMPLEMENTED),
    # SmtpServer SmtpParser.cs (github:cosullivan/SmtpServer)
    ('501 missing the TO:', 'RCPT', Reason.SYNTAX_ERROR),
    # iRedMail samples/postfix/helo_access.pcre (github:iredmail/iRedMail), without Postfix's prefix
    ('ACCESS DENIED. Your email was rejected because the sending mail server does not identify itself correctly (localhost)', 'bounce', Reason.HELO_REJECTED),
    ('ACCESS DENIED. Your email was rejected because the sending mail server sent non RFC compliant HELO identity (192.0.2.1)', 'bounce', Reason.HELO_REJECTED),
    ('ACCESS DENIED. Your email was rejected because the sending mail server seems to be impersonating another mail server (gmail.com)', 'bounce', Reason.HELO_REJECTED),
    # smtp-gated lang/lang-en.h, lang/lang-pl.h (github:vpithart/smtp-gated)
    ('421 Cannot connect to server', 'banner', Reason.NETWORK_ERROR),
    ('550 Rejected due to rate or quota limit', 'MAIL', Reason.RATE_LIMITED),
    ('550 Message denied without autorization', 'MAIL', Reason.AUTH_REQUIRED),
    ('550 Forbidden RCPT TO', 'RCPT', Reason.POLICY_REJECTED),
    ('550 Znaleziono wirusa, idz sobie', 'after-DATA', Reason.VIRUS_DETECTED),
    ('421 Nie mozna polaczyc sie z serwerem', 'banner', Reason.NETWORK_ERROR),
    ('421 Uplynal czas oczekiwania na polaczenie', 'banner', Reason.NETWORK_ERROR),
    ('421 Zbyt wiele polaczen z Twojego adresu, sprobuj pozniej', 'banner', Reason.RATE_LIMITED),
    ('550 Wysylka bez autoryzacji zabroniona', 'MAIL', Reason.AUTH_REQUIRED),
    ('550 Odrzucone z powodu przekroczenia limitow', 'MAIL', Reason.RATE_LIMITED),
    ('550 Przekroczony okresowy limit wiadomosci', 'MAIL', Reason.RATE_LIMITED),
    # Symfony Mailer SocketStream.php, AbstractStream.php, EsmtpTransport.php (github:symfony/symfony)
    ('Connection to "smtp.example.org:587" has been closed unexpectedly.', 'bounce', Reason.NETWORK_ERROR),
    ('Unable to write bytes on the wire.', 'bounce', Reason.NETWORK_ERROR),
    ('Failed to authenticate on SMTP server with username "user@example.org" using the following authenticators: "LOGIN", "PLAIN".', 'bounce', Reason.CREDENTIALS_INVALID),
    # Python's Lib/smtplib.py (github:python/cpython)
    ('smtplib.SMTPServerDisconnected: Connection unexpectedly closed', 'bounce', Reason.NETWORK_ERROR),
    ('smtplib.SMTPException: No suitable authentication method found.', 'bounce', Reason.NOT_IMPLEMENTED),
    ('smtplib.SMTPNotSupportedError: STARTTLS extension not supported by server.', 'bounce', Reason.TLS_FAILURE),
    # Go's src/net/net.go (github:golang/go)
    ('dial tcp: lookup mx.example.invalid: no such host', 'bounce', Reason.DOMAIN_UNKNOWN),
    # PHP's win32/sendmail.c (github:php/php-src)
    ('Warning: mail(): Failed to connect to mailserver at "localhost" port 25, verify your "SMTP" and "smtp_port" setting in php.ini or use ini_set()', 'bounce', Reason.NETWORK_ERROR),
    ('Warning: mail(): Mailserver rejected our "sendmail_from" setting', 'bounce', Reason.SENDER_REJECTED),
    # Thunderbird composeMsgs.properties in ru, cs, ja, zh-CN (github:thunderbird/thunderbird-l10n)
    ('Сообщение не может быть отправлено, так как соединение с Сервером исходящей почты (SMTP) «smtp.example.org» было утеряно в середине транзакции. Попробуйте снова.', 'bounce', Reason.NETWORK_ERROR),
    ('Не удалось аутентифицироваться на Сервере исходящей почты (SMTP) «smtp.example.org». Пожалуйста, проверьте пароль.', 'bounce', Reason.CREDENTIALS_INVALID),
    ('Zprávu nelze odeslat, protože se nepodařilo připojit na SMTP server smtp.example.org. Server může být nedostupný nebo odmítá SMTP spojení.', 'bounce', Reason.NETWORK_ERROR),
    ('送信処理の途中で送信 (SMTP) サーバー smtp.example.org との接続が切断されたため、メッセージを送信できませんでした。再度試してください。', 'bounce', Reason.NETWORK_ERROR),
    ('发件服务器（SMTP）smtp.example.org 不支持您所选择的认证方式。请试着修改“账号设置”中“服务器设置”的“认证方式”。', 'bounce', Reason.NOT_IMPLEMENTED),
])
def test_round4_reject_strings_are_read_by_their_words(text: str, context: str, reason: Reason) -> None:
    d = diagnose(parse(text), Context.parse(context) if context else None, catalogue=load(rules=""))
    assert d.reason is reason, d.decided_by
    assert d.decided_by is not None and d.decided_by.by == "lexicon", d.decided_by
