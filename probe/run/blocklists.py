"""Pure data: the public DNS blocklists the probe knows, and the default set it checks. No I/O.

Kept apart from probe.run.selfaudit (which asks them over DNS) so that `--help` can name the default
set without loading the network stack.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Blocklist:
    """What we know about one public DNSBL: its name, where to look up and delist, its return codes."""

    zone: str
    name: str
    removal_url: str
    codes: tuple[tuple[str, str], ...] = ()  # (return code, meaning); others mean "listed"
    ipv6: bool = True  # False: the list covers IPv4 only, so an IPv6 NXDOMAIN would prove nothing


_PBL = ("an end-user address that should not send mail directly (Spamhaus PBL): send through your "
        "provider's relay, or remove the PBL entry if this really is a mail server")
KNOWN_BLOCKLISTS: dict[str, Blocklist] = {b.zone: b for b in (
    Blocklist("zen.spamhaus.org", "Spamhaus ZEN", "https://check.spamhaus.org/", (
        ("127.0.0.2", "a known spam source or spam operation (Spamhaus SBL)"),
        ("127.0.0.3", "low-reputation bulk sending detected automatically (Spamhaus CSS)"),
        *((f"127.0.0.{n}", "a compromised host: malware, bot or open proxy seen sending (Spamhaus XBL)")
          for n in (4, 5, 6, 7)),
        ("127.0.0.9", "a hijacked or criminal network (Spamhaus DROP)"),
        ("127.0.0.10", _PBL), ("127.0.0.11", _PBL))),
    Blocklist("b.barracudacentral.org", "Barracuda Reputation Block List",
              "https://www.barracudacentral.org/rbl/removal-request",
              (("127.0.0.2", "poor sending reputation (Barracuda BRBL)"),), ipv6=False),
    Blocklist("bl.spamcop.net", "SpamCop", "https://www.spamcop.net/bl.shtml",
              (("127.0.0.2", "reported by spam recipients (SpamCop)"),), ipv6=False),
    Blocklist("psbl.surriel.com", "Passive Spam Block List", "https://psbl.org/",
              (("127.0.0.2", "seen sending to spam traps (PSBL)"),), ipv6=False),
    Blocklist("bl.mailspike.net", "Mailspike", "https://mailspike.org/",
              (("127.0.0.2", "poor sending reputation (Mailspike)"),)),
)}
# The default set: lists that receivers widely consult, free for low-volume queries, that list
# single addresses (not whole provider ranges) and offer self-service lookup and removal.
# Not included: SORBS (decommissioned by Proofpoint in June 2024) and UCEPROTECT levels 2/3
# (they list whole networks, which the owner of one address cannot act on).
DEFAULT_DNSBL_ZONES: tuple[str, ...] = tuple(KNOWN_BLOCKLISTS)
