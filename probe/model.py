"""Pure: the vocabulary and the plain data every layer shares. Imports nothing from probe.

The string values of the enums are public API (SPEC.md: JSON output, --expect,
explain --json). Add members where users need them; never rename one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import IntEnum, StrEnum
from typing import Any


class Reason(StrEnum):
    """Why a reply or probe event came out as it did (SPEC.md reason vocabulary)."""

    ACCEPTED = "accepted"
    CANNOT_VERIFY = "cannot_verify"
    WILL_FORWARD = "will_forward"
    USER_UNKNOWN = "user_unknown"
    MAILBOX_FULL = "mailbox_full"
    MAILBOX_DISABLED = "mailbox_disabled"
    HAS_MOVED = "has_moved"
    BAD_ADDRESS = "bad_address"
    DOMAIN_UNKNOWN = "domain_unknown"
    NOT_ACCEPTING_MAIL = "not_accepting_mail"
    RELAY_DENIED = "relay_denied"
    BLOCKLISTED = "blocklisted"
    BAD_REPUTATION = "bad_reputation"
    RATE_LIMITED = "rate_limited"
    GREYLISTED = "greylisted"
    REVERSE_DNS = "reverse_dns"
    HELO_REJECTED = "helo_rejected"
    SENDER_REJECTED = "sender_rejected"
    SENDER_UNAUTHENTICATED = "sender_unauthenticated"
    AUTH_REQUIRED = "auth_required"
    CREDENTIALS_INVALID = "credentials_invalid"
    TLS_REQUIRED = "tls_required"
    TLS_FAILURE = "tls_failure"
    POLICY_REJECTED = "policy_rejected"
    SPAM_DETECTED = "spam_detected"
    VIRUS_DETECTED = "virus_detected"
    CONTENT_REJECTED = "content_rejected"
    MESSAGE_TOO_BIG = "message_too_big"
    SYNTAX_ERROR = "syntax_error"
    NOT_IMPLEMENTED = "not_implemented"
    BAD_SEQUENCE = "bad_sequence"
    SERVICE_UNAVAILABLE = "service_unavailable"
    SYSTEM_ERROR = "system_error"
    STORAGE_FULL = "storage_full"
    NETWORK_ERROR = "network_error"
    EXPIRED = "expired"
    DNS_ERROR = "dns_error"
    PROTOCOL_ERROR = "protocol_error"
    UNKNOWN = "unknown"


class Severity(StrEnum):
    """How much a reply or event matters, in monitoring terms."""

    OK = "ok"  # success, nothing to do
    INFO = "info"  # expected or harmless (252 to VRFY, 502 VRFY disabled, 354)
    WARNING = "warning"  # transient or uncertain: retry later, or look into it
    CRITICAL = "critical"  # permanent failure


class ReplyClass(StrEnum):
    """RFC 5321 §4.2.1 first digit of a reply code."""

    POSITIVE = "positive"  # 2xx
    INTERMEDIATE = "intermediate"  # 3xx
    TRANSIENT = "transient"  # 4xx
    PERMANENT = "permanent"  # 5xx

    @classmethod
    def of(cls, code: int | None) -> ReplyClass | None:
        """The class of a reply code, or None when it is not a valid 2xx-5xx code."""
        if code is None or not 200 <= code <= 599:
            return None
        return (cls.POSITIVE, cls.INTERMEDIATE, cls.TRANSIENT, cls.PERMANENT)[code // 100 - 2]


class Context(StrEnum):
    """The command (or event) a reply answered. Parsed case-insensitively by `Context.parse`."""

    BANNER = "banner"
    EHLO = "EHLO"
    HELO = "HELO"
    STARTTLS = "STARTTLS"
    AUTH = "AUTH"
    VRFY = "VRFY"
    EXPN = "EXPN"
    MAIL = "MAIL"
    RCPT = "RCPT"
    DATA = "DATA"
    AFTER_DATA = "after-DATA"
    RSET = "RSET"
    NOOP = "NOOP"
    QUIT = "QUIT"
    HELP = "HELP"
    BOUNCE = "bounce"
    # probe events that are not replies to a command
    CONNECT = "connect"
    DNS = "dns"
    TLS = "tls"

    @classmethod
    def parse(cls, value: str | Context | None) -> Context | None:
        """'rcpt', 'RCPT TO', 'after-data', 'greeting' -> Context; None for None or ''.

        Raises ValueError naming the accepted values for anything else.
        """
        if value is None or isinstance(value, Context):
            return value
        key = value.strip().lower().replace("_", "-")
        if not key:
            return None
        member = _CONTEXT_KEYS.get(key)
        if member is not None:
            return member
        names = ", ".join(m.value for m in cls)
        raise ValueError(f"unknown reply context {value!r}; use one of: {names}")


_CONTEXT_ALIASES = {
    "greeting": "banner", "connect-banner": "banner", "rcpt to": "rcpt", "mail from": "mail",
    "end-of-data": "after-data", "dot": "after-data", "data-end": "after-data",
    "message": "after-data", "lhlo": "ehlo", "tls-handshake": "tls",
}
# lower-case value or alias -> member, built once: the catalogue parses a context for every note it loads
_CONTEXT_KEYS = {member.value.lower(): member for member in Context}
_CONTEXT_KEYS |= {alias: _CONTEXT_KEYS[key] for alias, key in _CONTEXT_ALIASES.items()}


class Verdict(StrEnum):
    """One address's answer (SPEC.md)."""

    DELIVERABLE = "deliverable"
    UNDELIVERABLE = "undeliverable"
    RISKY = "risky"  # catch-all, 252, full mailbox, greylisting
    UNKNOWN = "unknown"  # the probe could not decide; the reason says why


class DomainStatus(StrEnum):
    """The domain's answer (SPEC.md)."""

    ACCEPTS_MAIL = "accepts_mail"
    DOES_NOT_ACCEPT_MAIL = "does_not_accept_mail"
    # the MX hosts answered but refused this client by policy (postscreen, a blocklist, reputation,
    # a rate limit at connect or EHLO): the domain may accept mail from others
    REFUSES_THIS_CLIENT = "refuses_this_client"
    UNREACHABLE = "unreachable"  # no MX host answered
    NO_SUCH_DOMAIN = "no_such_domain"
    DNS_ERROR = "dns_error"


class ExitCode(IntEnum):
    """Process exit status: the monitoring-plugins convention (SPEC.md)."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


SCHEMA = "smtp-probe/1"


def _plain(value: Any) -> Any:
    """dataclasses.asdict output -> JSON-ready values (enums become their strings, tuples lists)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, IntEnum):
        return int(value)
    if isinstance(value, StrEnum):
        return str(value)
    return value


QUOTE_MAX = 100  # characters of a reply that a one-line quote keeps, the ellipsis included


def first_line(text: str) -> str:
    """The first line of a reply's text, whitespace collapsed, at most 100 characters: how a summary, a finding or a
    piece of advice quotes a reply in one line. A longer line is cut at a word boundary and ends with "…", so a
    reader can tell the server said more (a word longer than half the quote is cut inside it). The ellipsis is not
    ASCII, like the report's own dashes (render/output.py backslash-escapes what a terminal cannot show)."""
    line = " ".join(text.split("\n", 1)[0].split())
    if len(line) <= QUOTE_MAX:
        return line
    cut = line[:QUOTE_MAX - 1]
    word_start = cut.rfind(" ") + 1
    if line[QUOTE_MAX - 1] != " " and word_start > QUOTE_MAX // 2:  # mid-word: drop the partial word, unless
        cut = cut[:word_start]  # that word is most of the quote ('550 ' and a 300-character token)
    return cut.rstrip() + "…"


def tls_negotiated(tls: Any) -> bool:
    """TLS is in force: a `tls` object (a session's, or the handshake's raw facts) with a version and no error. A
    failed handshake leaves {"version": None, "error": ...}, truthy but no TLS."""
    return isinstance(tls, dict) and bool(tls.get("version")) and not tls.get("error")


def exim_generated(cert: Any) -> bool:
    """The certificate Exim makes for itself when no tls_certificate is configured (since 4.92 it offers
    STARTTLS to every host by default, tls_advertise_hosts = *): self-signed, C=UK, O=Exim Developers, CN its
    hostname, valid for one hour (two from 4.95) from when it was made (src/src/tls-openssl.c and tls-gnu.c,
    tls_install_selfsign). Debian's exim4-config as shipped configures none, so every such Exim presents it."""
    if not isinstance(cert, dict) or not cert.get("self_signed"):
        return False
    parts = {part.strip() for part in str(cert.get("subject") or "").split(",")}
    return {"O=Exim Developers", "C=UK"} <= parts


def to_plain(obj: Any) -> dict[str, Any]:
    """A dataclass instance as a JSON-ready dict."""
    result: dict[str, Any] = _plain(asdict(obj))
    return result


@dataclass(frozen=True, slots=True)
class Decision:
    """What decided a Diagnosis. JSON: `decided_by`.

    by: "rule" (a wording rule, `rule` names it), "lexicon" (the phrases that matched, weighed with the code
    evidence), "pair" (a subject and what the reply says about it, read in one clause, catalogue/pairs: `phrases`
    names them, subject then predicate), "learned" (words learned from the rules' examples and the lexicon's phrases,
    weighed with the code evidence and the code's own reason: `phrases` names them), "wording" (a basic code's
    generic wording), "code" (the reply code, its enhanced status code or the command it answered), "class" (only the
    first digit was known), "event" (a probe event, not a reply), "nothing" (text without a code whose words say
    nothing known).
    """

    by: str
    summary: str  # one line for people
    rule: str | None = None
    phrases: tuple[str, ...] = ()  # the lexicon phrases (or learned words) that pointed to the reason
    evidence: tuple[str, ...] = ()  # what the code and the command added: "5xx", "X.2 mailbox", "to RCPT"


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """What one reply (or probe event) means, in the context where it was seen.

    Made by `probe.classify()`; never raised, never None.
    """

    text: str  # the reply exactly as given (lines joined with "\n")
    code: int | None  # basic reply code; None when the text carries none
    enhanced: str | None  # RFC 3463 status "5.1.1", None when absent or inconsistent with code
    reply_class: ReplyClass | None
    context: Context | None
    reason: Reason
    severity: Severity
    meaning: str  # what the reply says, in plain words
    when: str  # when you typically see it (in this context)
    remediation: str  # what to do, for the person running the probe (or the sender, for bounces)
    rule: str | None = None  # id of the catalogue wording rule that matched; None: code-level entry
    provider: str | None = None  # e.g. "Microsoft 365", recognised from text or MX host
    references: tuple[str, ...] = ()  # RFC sections, provider documentation URLs
    notes: tuple[str, ...] = ()  # caveats, e.g. "5.9.9 is not registered; explained by class"
    decided_by: Decision | None = None

    def to_dict(self) -> dict[str, Any]:
        d = to_plain(self)
        d["class"] = d.pop("reply_class")
        return d


@dataclass(frozen=True, slots=True)
class Reply:
    """One SMTP reply as read from the wire. `code` is -1 when the peer did not speak SMTP."""

    code: int
    lines: tuple[str, ...]  # each line's text after "NNN-"/"NNN " (or the raw line when code is -1)
    # the code each line carried, only when they differ (RFC 5321 §4.2.1 wants one code; Postfix's client
    # takes the final line's code as the reply's, as `code` does here); () for a well-formed reply
    line_codes: tuple[int, ...] = ()

    @property
    def text(self) -> str:
        """The reply as the server sent it: every line with its own code."""
        if self.code < 0:
            return "\n".join(self.lines)
        n = len(self.lines)
        codes = self.line_codes or (self.code,) * n
        return "\n".join(f"{c}{'-' if i < n - 1 else ' '}{line}"
                         for i, (c, line) in enumerate(zip(codes, self.lines, strict=True)))

    @property
    def headline(self) -> str:
        """The code and the first line, as first_line quotes it: '521 5.3.2 Service currently unavailable'."""
        first = self.lines[0] if self.lines else ""
        return first_line(first if self.code < 0 else f"{self.code} {first}")

    @property
    def as_final_code(self) -> str:
        """The reply with the final line's code on every line: what it means (see `line_codes`)."""
        return Reply(self.code, self.lines).text if self.line_codes else self.text


@dataclass(slots=True)
class Step:
    """One command and its reply (or one event) in a session, classified. JSON: sessions[].steps[]."""

    command: str | None  # exactly what was sent ("EHLO probe.example.net"); None for the banner
    context: Context
    code: int | None  # None for events that carry no reply (timeout, refused)
    enhanced: str | None
    text: str  # the reply lines, exactly (joined with "\n"); for events a description
    lines: list[str]
    reason: Reason
    severity: Severity
    meaning: str
    remediation: str
    rule: str | None
    elapsed_ms: float
    unsolicited: bool = False  # the server sent this without being asked (e.g. 421 before QUIT)
    decided_by: Decision | None = None  # what decided the reason (a rule, the lexicon's phrases, the code)


@dataclass(slots=True)
class Finding:
    """Something worth telling that is not a reply: DNS oddities, certificate problems, audits."""

    id: str  # stable kebab-case, e.g. "mx-is-cname"
    severity: Severity
    message: str  # one sentence a person can act on
    subject: str | None = None  # the host, address or record it is about


@dataclass(slots=True)
class MxHost:
    """One mail exchanger from DNS (or --mx / implicit MX)."""

    host: str
    preference: int
    addresses: list[str]
    port: int = 25
    implicit: bool = False  # RFC 5321 §5.1: no MX, the domain's own address records
    error: str | None = None  # why it has no usable address
    # named on the command line (--mx, or the address literal given as the domain), not found in DNS: it has no MX
    # preference, and `preference` is its place in the order given (0 first)
    named: bool = False
    # address -> what a bare connection check saw there when no session was held (probe.run.greeting: the IPv6
    # check, the equal-preference check): "greeted" or the words of what went wrong ("refused the connection")
    checked: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Session:
    """One SMTP connection attempt to one address of one MX host. JSON: sessions[]."""

    host: str
    address: str
    port: int
    outcome: str  # completed | refused | timeout | reset | rejected | deferred | protocol_error
    #               | tls_failed | skipped (deadline) | unreachable
    steps: list[Step] = field(default_factory=list)
    tls: dict[str, Any] | None = None
    extensions: list[str] = field(default_factory=list)  # EHLO keywords, upper-case
    error: str | None = None  # one line, when the session broke off
    elapsed_ms: float = 0.0
    dane: dict[str, Any] | None = None


@dataclass(slots=True)
class AddressResult:
    """The answer for one address. JSON: addresses[]."""

    address: str
    verdict: Verdict
    reason: Reason
    code: int | None
    enhanced: str | None
    meaning: str
    remediation: str
    host: str | None = None  # the MX host that gave the answer
    command: str | None = None  # the command whose reply decided (RCPT, VRFY, MAIL, banner ...)
    text: str | None = None  # that reply's text
    rule: str | None = None
    catch_all: bool | None = None
    provider: str | None = None
    vrfy: dict[str, Any] | None = None  # {"code", "reason", "text"} when VRFY was asked
    retry_after_s: float | None = None  # greylisting: the delay the server asked for
    # --retry-greylist: each attempt in order, {"host", "address", "code", "enhanced", "reason",
    # "text", "waited_s"}; empty when the address was asked once
    attempts: list[dict[str, Any]] = field(default_factory=list)
    # set when the address's own domain is not the one whose MX was asked (relay / backup-MX check)
    note: str | None = None
    # each MX host that answered this address's RCPT, in preference order, when more than one did
    # (--all-mx): {"host", "address", "verdict", "reason", "code", "enhanced", "text"}; `verdict`
    # above stays the first host's, a mx-disagree finding says where the others differ
    mx_verdicts: list[dict[str, Any]] = field(default_factory=list)
    decided_by: Decision | None = None  # what decided the reason (a rule, the lexicon's phrases, the code)


@dataclass(slots=True)
class Report:
    """Everything one probe learned. `to_dict()` is the SPEC.md JSON shape."""

    domain: str
    status: DomainStatus
    mx: list[MxHost] = field(default_factory=list)
    mx_source: str = "mx"  # mx | implicit | null | override | none
    sessions: list[Session] = field(default_factory=list)
    addresses: list[AddressResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    reason: Reason = Reason.ACCEPTED  # why the domain has its status
    summary: str = ""  # one line for people
    exit_code: ExitCode = ExitCode.OK
    elapsed_ms: float = 0.0
    started_at: str = ""  # ISO 8601 UTC
    expectations: list[dict[str, Any]] = field(default_factory=list)  # {"expect", "met", "detail"}
    mta_sts: dict[str, Any] | None = None
    tls_rpt: dict[str, Any] | None = None
    transport: dict[str, Any] | None = None  # {"domain": one line, "hosts": {mx host: one line}}
    source: dict[str, Any] | None = None  # audit of this machine's address, when a server blamed it
    # a domain-only probe's RCPT TO:<postmaster@DOMAIN>: {"address", "host", "code", "enhanced", "reason",
    # "text", "accepted"}; None when not asked (addresses given, --no-postmaster, no host answered)
    postmaster: dict[str, Any] | None = None
    input: str | None = None  # the target as given (batch echoes it)
    error: str | None = None  # set when the probe could not run at all (bad input, local resolver)

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return could_not_run_dict(self.input or self.domain, self.error, summary=self.summary,
                                      exit_code=self.exit_code)
        d = to_plain(self)
        d = {"schema": SCHEMA, **d}
        return d


def could_not_run_dict(raw: str, error: str, *, summary: str = "",
                       exit_code: ExitCode = ExitCode.UNKNOWN) -> dict[str, Any]:
    """The JSON of a probe that could not run (bad usage or input, on the command line or a batch line):
    the schema's required fields with nothing learned (status null, empty lists), `error` says why."""
    return {"schema": SCHEMA, "domain": raw, "status": None, "mx": [], "sessions": [], "addresses": [],
            "findings": [], "summary": summary or f"{raw}: probe could not run: {error}", "input": raw,
            "error": error, "exit_code": int(exit_code)}


@dataclass(frozen=True, slots=True)
class ProbeOptions:
    """How to probe. Built once at the edge (CLI, batch, tests); never a module global."""

    helo: str = "localhost"  # EHLO/HELO name; the CLI defaults it to this machine's FQDN
    mail_from: str = ""  # MAIL FROM; "" is the null reverse-path <>
    port: int = 25
    mx: tuple[tuple[str, int], ...] = ()  # --mx HOST[:PORT]: skip the MX lookup, try these in order
    resolvers: tuple[tuple[str, int], ...] = ()  # --resolver IP[:PORT]; () = the system's
    timeout_s: float = 10.0  # each step: connect, banner, each command, TLS handshake, DNS query
    deadline_s: float = 120.0  # the whole run, whatever the servers do
    starttls: str = "auto"  # auto | require | never
    vrfy: bool = True
    catch_all: bool = True  # RCPT a random local part to detect accept-all domains
    postmaster: bool = True  # domain-only: RCPT TO:<postmaster@DOMAIN> tests that mail is taken (--no-postmaster)
    pipelining: bool = True  # use PIPELINING where the server advertises it (RFC 2920)
    all_mx: bool = False  # probe every MX host (concurrently), not just until a definitive answer
    family: int | None = None  # 4 or 6 to force an address family
    proxy: str | None = None  # socks5://host:port
    source_ip: str | None = None  # bind connections to this local address (a cluster worker's own egress)
    retry_greylist_s: float = 0.0  # wait up to this long and retry a greylisted RCPT
    tls_policies: bool = True  # look up MTA-STS, TLS-RPT and DANE
    cert_warning_days: int = 21  # certificate findings: WARNING when it expires sooner
    # ... and CRITICAL when it expires sooner or has expired; None: certificate problems are WARNING unless
    # MTA-STS enforce or DANE covers the MX (the CLI sets it with --cert-* or --starttls require)
    cert_critical_days: int | None = None
    dnsbl_zones: tuple[str, ...] = ()
