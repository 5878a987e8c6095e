"""Pure: small SMTP facts the dialogue needs (EHLO keywords, recipient limits, safe commands). No I/O."""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence

from probe.errors import InputError
from probe.model import ProbeOptions, Reply
from probe.smtp.wire import check_command

_RANDOM_ALPHABET = string.ascii_lowercase + string.digits


def random_local_part() -> str:
    """'smtp-probe-' and 12 random lowercase letters or digits: an address nobody has."""
    return "smtp-probe-" + "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(12))


def is_too_many_recipients(reply: Reply) -> bool:
    """452 4.5.3 / "too many recipients": a limit per transaction, not an answer about the address. A 552 saying so
    too: RFC 821 gave the limit 552, and RFC 5321 §4.5.3.1.10 says clients SHOULD treat that 552 as temporary (real
    Exim sends "552 too many recipients" past recipients_max with recipients_max_reject = true)."""
    if reply.code not in (452, 552):
        return False
    text = " ".join(reply.lines).lower()
    return text.startswith(f"{reply.code // 100}.5.3") or "too many recipients" in text


def parse_extensions(ehlo: Reply) -> dict[str, str]:
    """EHLO reply lines after the first -> {KEYWORD: params}."""
    extensions: dict[str, str] = {}
    for line in ehlo.lines[1:]:
        keyword, _, params = line.strip().partition(" ")
        if keyword:
            extensions[keyword.upper()] = params.strip()
    return extensions


def check_inputs(recipients: Sequence[str], options: ProbeOptions) -> None:
    for what, text in [("the EHLO name", options.helo), ("the sender", options.mail_from),
                       *(("the recipient", r) for r in recipients)]:
        try:
            check_command(text)
        except ValueError as exc:
            raise InputError(f"{what} {text!r} cannot be sent: {exc}") from None
        forbidden = "<>" if text.startswith('"') else "<> "  # a quoted local part may hold spaces
        if what != "the EHLO name" and any(c in text for c in forbidden):
            raise InputError(f"{what} {text!r} cannot be sent: it holds '<', '>' or a space")


# Exim's smtp_accept_max_nonmail default: the 11th non-mail command of a session gets
# "554 Too many nonmail commands" and the connection is closed (github:Exim/exim src/src/smtp_in.c).
# The smallest limit in common use; the probe stays within it in every session.
NONMAIL_LIMIT = 10
_MAIL_VERBS = frozenset({"MAIL", "RCPT", "DATA", "BDAT", "QUIT", "AUTH"})
_ONCE_FREE = frozenset({"RSET", "EHLO", "STARTTLS"})  # HELO shares EHLO's allowance


def _verb(command: str) -> str:
    verb = command.split(" ", 1)[0].split(":", 1)[0].upper()
    return "EHLO" if verb == "HELO" else verb


class NonMailBudget:
    """The non-mail commands of one connection, counted as Exim counts them (smtp_in.c: cmd_list's
    is_mail_cmd and smtp_setup_msg): every command but MAIL, RCPT, DATA, BDAT, QUIT and AUTH counts,
    except the first RSET, the first EHLO/HELO and the first STARTTLS, and one EHLO again after STARTTLS.

    >>> b = NonMailBudget(); b.spend(["EHLO x", "STARTTLS"]); b.after_tls(); b.spend(["EHLO x", "MAIL FROM:<>", "RSET"])
    >>> b.used, b.cost(["VRFY a", "RSET"]), b.left
    (0, 2, 10)
    """

    def __init__(self, limit: int = NONMAIL_LIMIT) -> None:
        self.limit = limit
        self.used = 0
        self._free = set(_ONCE_FREE)

    def _charge(self, commands: Sequence[str], free: set[str]) -> int:
        used = 0
        for command in commands:
            verb = _verb(command)
            if verb in _MAIL_VERBS:
                continue
            if verb in free:
                free.discard(verb)
            else:
                used += 1
        return used

    def cost(self, commands: Sequence[str]) -> int:
        """How many of `commands`, sent next, would count (nothing is spent)."""
        return self._charge(commands, set(self._free))

    def spend(self, commands: Sequence[str]) -> None:
        self.used += self._charge(commands, self._free)

    def after_tls(self) -> None:
        """STARTTLS succeeded: the EHLO that follows is free again."""
        self._free.add("EHLO")

    @property
    def left(self) -> int:
        return self.limit - self.used
