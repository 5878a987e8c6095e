"""Pure: greylisting facts from reply text (the delay a server asks for) and the retry plan. No I/O.

Recognising greylisting is the catalogue's job (reason `greylisted`); this module only
reads the delay the server states, in the wordings greylisting daemons use:
"Greylisted for 300 seconds" (sqlgrey, Exim), "try again in 5 minutes", "retry after 60s",
milter-greylist's "please come back in 00:05:00". postgrey's "Greylisted, see http://..."
states none: then the delay is unknown (None), never guessed.
"""

from __future__ import annotations

import re

from probe.model import Diagnosis, Reason, ReplyClass

_UNITS = {"s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
          "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
          "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0}
_LEAD = r"(?:for|in|after|wait|within|retry|delay(?:ed)?|greylisted)\s+(?:at\s+least\s+|about\s+|another\s+)?"
_AMOUNT = re.compile(_LEAD + r"(\d{1,6}(?:\.\d+)?)\s*(seconds?|secs?|minutes?|mins?|hours?|hrs?|hr|[smh])\b",
                     re.IGNORECASE)
_CLOCK = re.compile(_LEAD + r"(?:(\d{1,2}):)?(\d{1,2}):(\d{2})\b", re.IGNORECASE)

# A retry is worth it for greylisting, and for a bare temporary refusal of RCPT on first contact
# (the other face of greylisting: no wording, just 450/451 and a generic text).
_RETRY_CODES = frozenset({450, 451})


def retry_delay_s(text: str) -> float | None:
    """The delay the server asks for, in seconds, or None when the text states none.

    >>> retry_delay_s("451 4.7.1 Greylisted for 300 seconds"), retry_delay_s("450 try again in 5 minutes")
    (300.0, 300.0)
    >>> retry_delay_s("450 4.7.1 please come back in 00:05:00"), retry_delay_s("450 4.2.0 Greylisted, see http://x/")
    (300.0, None)
    """
    flat = " ".join(text.split())
    clock = _CLOCK.search(flat)
    if clock is not None:
        hours, minutes, seconds = (int(g) if g else 0 for g in clock.groups())
        return float(hours * 3600 + minutes * 60 + seconds)
    amount = _AMOUNT.search(flat)
    if amount is not None:
        return float(amount.group(1)) * _UNITS[amount.group(2).lower()]
    return None


def worth_retrying(diagnosis: Diagnosis) -> bool:
    """True for a greylisting reply, or a 450/451 that names no other reason (first-contact deferral)."""
    if diagnosis.reason is Reason.GREYLISTED:
        return True
    return (diagnosis.reply_class is ReplyClass.TRANSIENT and diagnosis.code in _RETRY_CODES
            and diagnosis.reason is Reason.UNKNOWN)


def planned_wait_s(stated_s: float | None, allowed_s: float, room_s: float, step_timeout_s: float) -> float | None:
    """How long to wait before the retry, or None when the retry cannot fit.

    `stated_s`: the server's delay (None: unknown, so wait all `allowed_s`); `allowed_s`: --retry-greylist;
    `room_s`: time left before the deadline, of which the retry itself needs about `step_timeout_s`.
    A stated delay longer than allowed is not worth a retry that would be greylisted again.
    """
    if stated_s is not None and stated_s > allowed_s:
        return None
    wanted = allowed_s if stated_s is None else min(allowed_s, stated_s + 1.0)  # a second of slack
    usable = room_s - min(step_timeout_s, room_s / 2)
    if usable <= 0 or (stated_s is not None and usable < stated_s):
        return None
    return max(0.0, min(wanted, usable))
