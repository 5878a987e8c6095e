"""Pure edge validation: every user input checked and normalised before anything is sent; no network, no I/O.

Each parser returns the exact form the probe puts on the wire, or raises
`probe.errors.InputError` with one sentence that names the input and shows any
bad character escaped. Control characters (C0, DEL, C1) and Unicode line or
paragraph separators are refused in every input: that is the guard against SMTP
command injection ("a@b.com>\\r\\nDATA").

Decisions (documented here because callers rely on them):
- Mail domains are host names with at least one dot, converted to lower-case
  A-labels (UTS-46). Special-use names that cannot receive mail (localhost,
  .local, .invalid, .onion, .arpa) are refused; ".test" is allowed (RFC 6761),
  because the tests and `smtp-probe demo` use it.
- An address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]") is accepted as a
  domain and returned in RFC 5321 form; the probe then connects to that IP
  without an MX lookup. "[::1]" (no "IPv6:" tag) is normalised to "[IPv6:::1]".
  A bare IP given as a domain is refused with a hint to use --mx.
- A URL ("https://example.com/") or HOST:PORT where a mail domain belongs is
  refused with what to type instead (the domain; --mx HOST:PORT for a port).
- A trailing dot is accepted in an address's domain as in a domain
  ("user@example.com." is user@example.com).
- HELO names may be single-label ("localhost"): a server refusing a non-FQDN
  HELO is something the probe diagnoses (helo_rejected), not an input error.
- Local parts longer than 64 octets are accepted (email-validator's
  non-strict default); the server's answer to them is a result worth showing.
- In a target line, addresses whose domain differs from the given domain are
  kept: the probe asks the given domain's MX about them (relay and backup-MX
  checks), and the runner reports them as such (verdict `unknown` unless the
  reply was a permanent refusal, with a `note` naming the question really
  asked). Without a domain, every address must share one domain: mixed
  domains are refused, because one probe asks one domain's MX and its answer
  about another domain's mailbox is no deliverability answer. The command
  line follows the same rule (`target_from_args`). Duplicates are dropped; at
  most 100 addresses (RFC 5321 §4.5.3.1.8) per target.
- A tab may separate fields of a target line; everywhere else it is refused.
  Callers strip the line terminator before calling `parse_target`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from probe.errors import InputError

MAX_DOMAIN_LENGTH = 253  # RFC 1035 §2.3.4, without the trailing dot
MAX_LABEL_LENGTH = 63  # RFC 1035 §2.3.1
MAX_ADDRESSES_PER_TARGET = 100  # RFC 5321 §4.5.3.1.8: the minimum a server must buffer
MAX_INPUT_LENGTH = 65536  # longer than any sensible target line; keeps work bounded

# C0, DEL, C1, LINE SEPARATOR, PARAGRAPH SEPARATOR
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_FORBIDDEN_EXCEPT_TAB = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z")
_ASCII_HOST_CHARS = re.compile(r"[A-Za-z0-9.-]*\Z")
_PORT = re.compile(r"[0-9]{1,5}\Z")
# RFC 6761/6762/7686 and .arpa: names that cannot have a deliverable mail domain
_SPECIAL_USE_SUFFIXES = ("localhost", "local", "invalid", "onion", "arpa")
_SHOWN_MAX = 80
# The common address, a dot-atom of ASCII atext (RFC 5322 §3.2.3) at a host name of LDH labels whose
# last character is a letter, gets email-validator's verdict without importing it: its Unicode
# patterns cost about 25 ms of CPU at import. Anything else goes to email-validator.
_PLAIN_LOCAL = re.compile(r"[a-zA-Z0-9_!#$%&'*+/=?^`{|}~-]+(?:\.[a-zA-Z0-9_!#$%&'*+/=?^`{|}~-]+)*\Z")
_PLAIN_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z0-9][a-z0-9-]{0,61})?[a-z]\Z")
# RFC 2142 mailbox names, which email-validator lower-cases (its rfc_constants.CASE_INSENSITIVE_MAILBOX_NAMES)
_CASE_INSENSITIVE_MAILBOXES = frozenset(("info", "marketing", "sales", "support", "abuse", "noc", "security",
                                         "postmaster", "hostmaster", "usenet", "news", "webmaster", "www",
                                         "uucp", "ftp"))
_MAX_ADDRESS_LENGTH = 254  # RFC 5321 §4.5.3.1.3 with RFC 3696 errata 1690, as email-validator counts it


@dataclass(frozen=True, slots=True)
class Address:
    """A validated mailbox, ready for `RCPT TO:<smtp_form>` / `VRFY smtp_form`."""

    original: str  # the text as given (surrounding blanks removed)
    local: str  # the local part, NFC-normalised, quotes only where needed
    domain: str  # lower-case A-label domain, or an address literal "[192.0.2.1]"
    ascii: str | None  # the all-ASCII address; None when the local part needs SMTPUTF8
    needs_smtputf8: bool  # send only to servers advertising SMTPUTF8 (RFC 6531)
    smtp_form: str  # what goes between the angle brackets on the wire

    def __str__(self) -> str:
        return self.smtp_form


@dataclass(frozen=True, slots=True)
class Target:
    """One CLI invocation or batch line: a domain and the addresses to ask its MX about."""

    domain: str
    addresses: list[Address] = field(default_factory=list)
    raw: str = ""


def escape_text(text: str) -> str:
    """Text with every non-printable character shown as a Python escape ("\\r", "\\x00", "\\u202e")."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _show(text: str) -> str:
    """An input quoted for an error message: escaped, and shortened when long."""
    if len(text) > _SHOWN_MAX:
        text = text[: _SHOWN_MAX - 1] + "…"
    return f"'{escape_text(text)}'"


def _error(message: str) -> InputError:
    """An InputError whose message is one printable sentence starting with a capital."""
    message = escape_text(message)
    return InputError(message[:1].upper() + message[1:])


def _sentence_tail(message: str) -> str:
    """A library message folded into the end of our sentence ("The part ..." -> "the part ...")."""
    message = message.strip().rstrip(".")
    return message[:1].lower() + message[1:]


def reject_control_characters(text: str, what: str, *, allow_tab: bool = False) -> None:
    """Raise InputError when `text` holds a control character or a line/paragraph separator."""
    pattern = _FORBIDDEN_EXCEPT_TAB if allow_tab else _FORBIDDEN
    bad = pattern.search(text)
    if bad is not None:
        char = escape_text(bad.group())
        raise _error(f"{what} contains a control character ({char}); nothing was sent")
    if len(text) > MAX_INPUT_LENGTH:
        raise _error(f"{what} is too long ({len(text)} characters; at most {MAX_INPUT_LENGTH})")


def _ip_or_none(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_ip_literal(host: str) -> bool:
    """'192.0.2.1', '::1', '[192.0.2.1]', '[IPv6:2001:db8::1]': an address, not a host name.

    MTA-STS and DANE name MX hosts (RFC 8461 §4.1, RFC 7672 §2.2); neither applies to an address.
    """
    inner = host.strip().removeprefix("[").removesuffix("]")
    return _ip_or_none(inner[5:] if inner[:5].lower() == "ipv6:" else inner) is not None


def _address_literal(text: str, what: str) -> str:
    """'[192.0.2.1]' / '[IPv6:2001:db8::1]' / '[::1]' -> the RFC 5321 address literal."""
    inner = text[1:-1]
    if inner[:5].lower() == "ipv6:":
        ip = _ip_or_none(inner[5:])
        if not isinstance(ip, ipaddress.IPv6Address) or ip.scope_id:
            raise _error(f"{what} {_show(text)} is not a valid IPv6 address literal")
        return f"[IPv6:{ip.compressed}]"
    ip = _ip_or_none(inner)
    if ip is None or (isinstance(ip, ipaddress.IPv6Address) and ip.scope_id):
        raise _error(f"{what} {_show(text)} is not an address literal such as [192.0.2.1] or [IPv6:2001:db8::1]")
    if isinstance(ip, ipaddress.IPv6Address):
        return f"[IPv6:{ip.compressed}]"
    return f"[{ip.compressed}]"


def _host_name(text: str, what: str) -> str:
    """A DNS host name -> lower-case A-labels. Checks LDH labels, lengths, empty labels."""
    name = text[:-1] if text.endswith(".") else text
    if not name:
        raise _error(f"{what} is empty")
    if len(name) > MAX_DOMAIN_LENGTH:
        raise _error(f"{what} {_show(text)} is too long ({len(name)} characters; at most {MAX_DOMAIN_LENGTH})")
    if "_" in name:
        raise _error(f"{what} {_show(text)} contains an underscore, which is not allowed in a host name")
    if any(ch.isspace() for ch in name):
        raise _error(f"{what} {_show(text)} contains a space")
    if not _ASCII_HOST_CHARS.match(name):
        import idna  # only for a name that is not plain ASCII (start-up)

        try:
            name = idna.encode(name, uts46=True, std3_rules=True).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise _error(f"{what} {_show(text)} is not a valid host name: {_sentence_tail(str(exc))}") from None
    name = name.lower()
    labels = name.split(".")
    if any(not label for label in labels):
        raise _error(f"{what} {_show(text)} has an empty label (two dots in a row, or a leading dot)")
    for label in labels:
        if len(label) > MAX_LABEL_LENGTH:
            raise _error(
                f"{what} {_show(text)} has a label of {len(label)} characters; at most {MAX_LABEL_LENGTH} are allowed"
            )
        if not _LDH_LABEL.match(label):
            raise _error(
                f"{what} {_show(text)} has an invalid label {_show(label)}: use letters, digits and inner hyphens"
            )
        if label[2:4] == "--":
            import idna

            try:
                idna.decode(label)  # xn-- labels must be valid Punycode; other "ab--" labels are reserved
            except (idna.IDNAError, UnicodeError):
                raise _error(f"{what} {_show(text)} has an invalid label {_show(label)}") from None
    if len(name) > MAX_DOMAIN_LENGTH:
        raise _error(f"{what} {_show(text)} is too long once converted to A-labels ({len(name)} characters)")
    if labels[-1].isdigit():  # no top-level domain is numeric; "127.1" or "0" would be read as an IP address
        raise _error(f"{what} {_show(text)} ends in an all-numeric label, "
                     "so it is neither a host name nor an IP address")
    return name


_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_HOST_PORT = re.compile(r"(?P<host>[^:/\s]+):(?P<port>[0-9]{1,5})/?\Z")


def _refuse_url_or_host_port(text: str, what: str) -> None:
    """A URL ("https://example.com/") or HOST:PORT typed where a mail domain belongs: say what to type."""
    if _URL_SCHEME.match(text) or (text.lower().startswith("mailto:") and "@" not in text):
        from urllib.parse import urlsplit  # only for this mistake (start-up stays light)

        try:
            host = urlsplit(text).hostname or ""
        except ValueError:
            host = ""
        hint = f"give just the domain, e.g. smtp-probe {host}" if host else "give just the domain (example.com)"
        raise _error(f"{what} {_show(text)} looks like a URL, not a mail domain; {hint} "
                     "(to probe one host on another port, use --mx HOST:PORT)")
    host_port = _HOST_PORT.match(text)
    if host_port:
        host = host_port.group("host")
        raise _error(f"{what} {_show(text)} looks like HOST:PORT, not a mail domain; to probe that host on that "
                     f"port use --mx {text.rstrip('/')} with the domain it serves, e.g. "
                     f"smtp-probe --mx {text.rstrip('/')} {host}")


def parse_domain(text: str, *, what: str = "the domain") -> str:
    """A mail domain as typed -> lower-case A-labels without the trailing dot, or an address literal."""
    reject_control_characters(text, what)
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return _address_literal(text, what)
    if _ip_or_none(text) is not None:
        raise _error(f"{what} {_show(text)} is an IP address, not a domain; "
                     f"use --mx {text} to probe that host directly")
    _refuse_url_or_host_port(text, what)
    name = _host_name(text, what)
    if "." not in name:
        raise _error(f"{what} {_show(text)} has no dot; give a full domain such as example.com")
    for special in _SPECIAL_USE_SUFFIXES:
        if name == special or name.endswith("." + special):
            raise _error(f"{what} {_show(text)} is a special-use name (.{special}) that cannot receive mail")
    return name


def _strip_angle_brackets(text: str) -> str:
    if len(text) >= 2 and text.startswith("<") and text.endswith(">"):
        return text[1:-1].strip()
    return text


def parse_address(text: str, *, what: str = "the address") -> Address:
    """A mailbox as typed ("user@example.com", "<user@example.com>", "用户@例子.广告") -> Address."""
    reject_control_characters(text, what)
    original = text.strip()
    candidate = _strip_angle_brackets(original)
    if not candidate:
        raise _error(f"{what} is empty")
    if "@" not in candidate:
        raise _error(f"{what} {_show(original)} has no @-sign; give an address such as user@example.com")
    if candidate.endswith(".") and not candidate.endswith("..") and not candidate.endswith("@."):
        candidate = candidate[:-1]  # a fully qualified domain ("user@example.com."), as parse_domain accepts
    plain = _plain_address(candidate)
    if plain is not None:
        local, ascii_domain = plain
        return _address(original, local, local, ascii_domain, what)
    from email_validator import EmailNotValidError, validate_email  # only for an address that is not plain

    try:
        checked = validate_email(
            candidate,
            check_deliverability=False,
            allow_smtputf8=True,
            allow_quoted_local=True,
            allow_domain_literal=True,
            allow_display_name=False,
            test_environment=True,  # allows the .test names of RFC 6761 (tests, demo)
        )
    except EmailNotValidError as exc:
        raise _error(f"{what} {_show(original)} is not valid: {_sentence_tail(str(exc))}") from None
    return _address(original, checked.local_part or "", checked.ascii_local_part, checked.ascii_domain, what)


def _plain_address(candidate: str) -> tuple[str, str] | None:
    """(local part, lower-case domain) as email-validator returns them for a plain ASCII address
    (validate_email with the options parse_address gives it); None for any other address: those
    (quoted or non-ASCII local parts, IDNA or reserved names, literals, errors) are left to it."""
    if not candidate.isascii() or len(candidate) > _MAX_ADDRESS_LENGTH:
        return None
    local, _, domain = candidate.partition("@")
    domain = domain.lower()  # UTS-46 mapping of an ASCII name: lower case
    if (not _PLAIN_LOCAL.match(local) or not _PLAIN_DOMAIN.match(domain) or len(domain) > MAX_DOMAIN_LENGTH
            or "--" in domain):  # "--": Punycode or reserved R-LDH labels
        return None
    if any(domain == name or domain.endswith("." + name) for name in _SPECIAL_USE_SUFFIXES):
        return None
    if local.lower() in _CASE_INSENSITIVE_MAILBOXES:
        local = local.lower()
    return local, domain


def _address(original: str, local: str, ascii_local: str | None, ascii_domain: str, what: str) -> Address:
    if ascii_domain.startswith("["):
        domain = _address_literal(ascii_domain, what)
    else:
        domain = parse_domain(ascii_domain, what=f"the domain of {what}")
    ascii_form = f"{ascii_local}@{domain}" if ascii_local else None
    smtp_form = ascii_form if ascii_form is not None else f"{local}@{domain}"
    return Address(
        original=original,
        local=local,
        domain=domain,
        ascii=ascii_form,
        needs_smtputf8=ascii_form is None,
        smtp_form=smtp_form,
    )


def parse_helo(text: str, *, what: str = "--helo") -> str:
    """An EHLO/HELO name: a host name (A-labels, lower case) or an address literal."""
    reject_control_characters(text, what)
    if text != text.strip():
        raise _error(f"{what} {_show(text)} has leading or trailing spaces")
    if text.startswith("[") and text.endswith("]"):
        return _address_literal(text, what)
    if _ip_or_none(text) is not None:
        raise _error(f"{what} {_show(text)} is a bare IP address; write it as an address literal [{text}]")
    return _host_name(text, what)


def parse_mail_from(text: str, *, what: str = "--from") -> str:
    """The MAIL FROM reverse-path: "" for the null path ("" or "<>"), else the address's wire form."""
    reject_control_characters(text, what)
    if text.strip() in ("", "<>"):
        return ""
    return parse_address(text, what=what).smtp_form


def parse_host_port(text: str, default_port: int, *, what: str = "the host") -> tuple[str, int]:
    """HOST[:PORT] ("mx.example.com", "127.0.0.1:5353", "[::1]:5353", "::1") -> (host, port).

    IP addresses come back compressed and without brackets; names as lower-case A-labels.
    """
    reject_control_characters(text, what)
    text = text.strip()
    if not text:
        raise _error(f"{what} is empty")
    port_text: str | None = None
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise _error(f"{what} {_show(text)} has an opening bracket but no closing one")
        host_text, rest = text[1:close], text[close + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise _error(f"{what} {_show(text)} has text after the closing bracket; use [IPv6]:PORT")
            port_text = rest[1:]
        if _ip_or_none(host_text) is None:
            raise _error(f"{what} {_show(text)} has no IP address inside the brackets")
    elif text.count(":") == 1:
        host_text, port_text = text.split(":")
    else:
        host_text = text  # a name, an IPv4 address, or a bare IPv6 address (no port possible)
    port = default_port if port_text is None else _port(port_text, text, what)
    ip = _ip_or_none(host_text)
    if ip is not None:
        return ip.compressed, port
    if ":" in host_text:
        raise _error(f"{what} {_show(text)} is not a valid IPv6 address")
    return _host_name(host_text, what), port


def _port(port_text: str, text: str, what: str) -> int:
    if not _PORT.match(port_text) or not 1 <= int(port_text) <= 65535:
        raise _error(f"{what} {_show(text)} has an invalid port {_show(port_text)}; use a number from 1 to 65535")
    return int(port_text)


def parse_resolver(text: str, *, what: str = "--resolver") -> tuple[str, int]:
    """--resolver IP[:PORT] -> (ip, port); a DNS server must be given as an IP address (default port 53)."""
    host, port = parse_host_port(text, 53, what=what)
    if _ip_or_none(host) is None:
        raise _error(f"{what} {_show(text)} must be an IP address, not a host name")
    return host, port


def parse_target(line: str, *, what: str = "the target") -> Target:
    """'domain', 'address', or 'domain address...' (blank- or tab-separated) -> Target."""
    reject_control_characters(line, what, allow_tab=True)
    return _target(line.split(), line, what)


def target_from_args(target: str, addresses: Sequence[str] = (), *, what: str = "the command line") -> Target:
    """`smtp-probe DOMAIN [ADDRESS...]` or `smtp-probe ADDRESS [ADDRESS...]` -> Target, by parse_target's rules.

    Each argument is one field (never split on blanks). Addresses without a DOMAIN must share one
    domain; with a DOMAIN, other domains' addresses are relay/backup questions to its MX.
    """
    fields = [target, *addresses]
    for field_text in fields:
        reject_control_characters(field_text, what)
    return _target([f.strip() for f in fields], " ".join(fields), what)


def _target(fields: list[str], raw: str, what: str) -> Target:
    if not fields or not fields[0]:
        raise _error(f"{what} is empty; give a domain, an address, or a domain followed by addresses")
    domain: str | None = None
    if "@" not in fields[0]:
        domain = parse_domain(fields[0], what=f"the domain in {what}")
        fields = fields[1:]
    addresses: list[Address] = []
    seen: set[str] = set()
    for position, token in enumerate(fields, start=1):
        address = parse_address(token, what=f"address {position} in {what}")
        if address.smtp_form not in seen:
            seen.add(address.smtp_form)
            addresses.append(address)
    if len(addresses) > MAX_ADDRESSES_PER_TARGET:
        raise _error(
            f"{what} has {len(addresses)} addresses; at most {MAX_ADDRESSES_PER_TARGET} can be probed in one session"
        )
    if domain is None:
        domains = sorted({address.domain for address in addresses})
        if len(domains) > 1:
            raise _error(
                f"the addresses in {what} belong to different domains ({', '.join(domains)}); "
                "probe each domain on its own, or give first the domain whose mail servers should be "
                "asked (other domains' addresses are then relay/backup checks, not deliverability)"
            )
        domain = domains[0]
    return Target(domain=domain, addresses=addresses, raw=raw)
