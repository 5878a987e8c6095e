"""Pure: small SMTP facts the dialogue needs (EHLO keywords, recipient limits, safe commands). No I/O."""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence

from .errors import InputError
from .model import ProbeOptions, Reply
from .wire import check_command

_RANDOM_ALPHABET = string.ascii_lowercase + string.digits


def random_local_part() -> str:
    """'smtp-probe-' and 12 random lowercase letters or digits: an address nobody has."""
    return "smtp-probe-" + "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(12))


def is_too_many_recipients(reply: Reply) -> bool:
    """452 4.5.3 / "too many recipients": a limit per transaction, not an answer about the address."""
    if reply.code != 452:
        return False
    text = " ".join(reply.lines).lower()
    return text.startswith("4.5.3") or "too many recipients" in text


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
