"""Phrases mined in round 5 (lexicon/en.toml, the section 'Mined, round 5'): text without a reply code, as users paste
it -- the log lines of MTAs and appliances. fail2ban's filters (github:fail2ban/fail2ban, config/filter.d/*.conf) match
them and its test logs (fail2ban/tests/files/logs/*) quote them as the servers write them; Kerio's documentation
quotes its security log; Wazuh's rules match and describe them; smf-sav, a milter, writes its replies and syslog lines. Each line below is such a line (addresses and hosts replaced by documentation values) that
the catalogue before round 5 read wrong, or not at all, with every wording rule off; only the round-5 phrases read it
right: with the wording rules off, the lexicon decides it."""

from __future__ import annotations

import pytest

from probe.diagnosis.catalogue import load
from probe.diagnosis.classifier import diagnose
from probe.diagnosis.codes import parse
from probe.model import Context, Reason


@pytest.mark.parametrize(("text", "context", "reason"), [
    # Kerio Connect's security log: fail2ban config/filter.d/kerio.conf, tests/files/logs/kerio
    ('SMTP Spam attack detected from 192.0.2.13, client sent data before SMTP greeting', 'bounce',
     Reason.POLICY_REJECTED),
    ('Relay attempt from IP address 192.0.2.75, mail from <sender@example.com> to <abuse@example.net> rejected',
     'bounce', Reason.RELAY_DENIED),
    # Kerio's documentation (support.gfi.com/article/110053)
    ('SMTP connection from 192.0.2.1 rejected: directory harvest attack', 'bounce', Reason.RATE_LIMITED),
    # Exim's main log: fail2ban config/filter.d/exim.conf, exim-spam.conf, tests/files/logs/exim, exim-spam
    ('mail.example.com (example.com) [192.0.2.211] sender verify fail for <user@example.com>: Unrouteable address',
     'bounce', Reason.SENDER_REJECTED),
    ('H=mail.example.com [192.0.2.91] sender verify fail for <mailer@example.net>: all relevant MX records point to '
     'non-existent hosts', 'bounce', Reason.SENDER_REJECTED),
    ('SMTP connection from (example.com) [192.0.2.33] closed by DROP in ACL', 'bounce', Reason.POLICY_REJECTED),
    ("H=(example.com) [192.0.2.9] dropped by 'connect' ACL: Country is banned", 'bounce', Reason.POLICY_REJECTED),
    ('no host name found for IP address 192.0.2.8', 'bounce', Reason.REVERSE_DNS),
    ('H=mail.example.gr [192.0.2.148]:32706 I=[192.0.2.4]:25 F=sender@example.com rejected after DATA: This message '
     'contains a virus (Sanesecurity.Junk.39934.UNOFFICIAL).', 'bounce', Reason.VIRUS_DETECTED),
    # Sendmail's log: fail2ban config/filter.d/sendmail-reject.conf, tests/files/logs/sendmail-reject
    ('rejecting commands from example.com [192.0.2.4] due to pre-greeting traffic after 6 seconds', 'bounce',
     Reason.POLICY_REJECTED),
    # Sendmail's log: fail2ban config/filter.d/sendmail-auth.conf, tests/files/logs/sendmail-auth
    ('s1GNXHYB005133: [192.0.2.178]: possible SMTP attack: command=AUTH, count=5', 'bounce', Reason.RATE_LIMITED),
    ('14NNwaRl065696: AUTH failure (DIGEST-MD5): user not found (-20) SASL(-13): user not found: unable to canonify '
     'user and get auxprops, user=scanner, relay=[192.0.2.1]', 'bounce', Reason.CREDENTIALS_INVALID),
    # Postfix's postscreen and smtpd logs: fail2ban config/filter.d/postfix.conf, tests/files/logs/postfix
    ('PREGREET 14 after 0.08 from [192.0.2.20]:59415: EHLO ylmf-pc\\r\\n', 'bounce', Reason.POLICY_REJECTED),
    ('COMMAND TIME LIMIT from [192.0.2.20]:3608 after CONNECT', 'bounce', Reason.NETWORK_ERROR),
    ('COMMAND COUNT LIMIT from [192.0.2.20]:15592 after RCPT', 'bounce', Reason.RATE_LIMITED),
    ('improper command pipelining after DATA from unknown[192.0.2.20]:', 'bounce', Reason.BAD_SEQUENCE),
    ('warning: unknown[192.0.2.20]: SASL LOGIN authentication failed: Connection lost to authentication server',
     'bounce', Reason.SYSTEM_ERROR),
    ('warning: hostname bad.example.com does not resolve to address 192.0.2.44: Name or service not known', 'bounce',
     Reason.REVERSE_DNS),
    ('warning: hostname bad.example.com does not resolve to address 192.0.2.44', 'bounce', Reason.REVERSE_DNS),
    # ASSP's maillog: fail2ban config/filter.d/assp.conf, tests/files/logs/assp
    ('Apr-27-13 02:25:10 [SSL-out] 192.0.2.97 max sender authentication errors (5) exceeded -- dropping connection - '
     'after reply: 535 5.7.8 Error: authentication failed: UGFzc3dvcmQ6;', 'bounce', Reason.RATE_LIMITED),
    # Wazuh's mail rules (github:wazuh/wazuh-ruleset): rules/log-entries/postfix.ini, rules/0325-opensmtpd_rules.xml
    ('warning: 192.0.2.179.list.dsbl.example: RBL lookup error: Host or domain name not found. Name service error for '
     'name=192.0.2.179.list.dsbl.example type=A: Host not found, try again', 'bounce', Reason.SYSTEM_ERROR),
    ('Server certificate verification failed', 'bounce', Reason.TLS_FAILURE),
    # qpsmtpd plugins/earlytalker: its reply to MAIL once the client talked before the greeting (re-grouped)
    ('550 Connecting host started transmitting before SMTP greeting', 'MAIL', Reason.POLICY_REJECTED),
    # smf-sav smf-sav.c (github:kouk/smf-sav): its replies and its syslog lines
    ('550 5.1.8 Sender address verification failed, check your MX', 'MAIL', Reason.SENDER_REJECTED),
    ('550 5.1.3 Recipient address does not conform to RFC-2821 syntax', 'RCPT', Reason.BAD_ADDRESS),
    ('sender check failed: from=<sender@example.com>, to=<user@example.net>, mail.example.com [192.0.2.1], [2s], '
     'id=4B9804D13CB0', 'bounce', Reason.SENDER_REJECTED),
    ('recipient check failed: from=<sender@example.com>, to=<user@example.net>, mail.example.com [192.0.2.1], [2s], '
     'id=4B9804D13CB0', 'bounce', Reason.USER_UNKNOWN),
])
def test_round5_log_lines_are_read_by_their_words(text: str, context: str, reason: Reason) -> None:
    d = diagnose(parse(text), Context.parse(context) if context else None, catalogue=load(rules=""))
    assert d.reason is reason, d.decided_by
    assert d.decided_by is not None and d.decided_by.by == "lexicon", d.decided_by
