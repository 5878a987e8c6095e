"""Pure engine: parse SMTP reply text into code, enhanced code and lines. No I/O; never raises."""

from __future__ import annotations

import re
from dataclasses import dataclass

# RFC 5321 §4.2: a reply line is "NNN-text" (continued) or "NNN text" / "NNN" (last line).
_REPLY_LINE = re.compile(r"^\s*([0-9]{3})(?:[ -]|$)(.*)$")
# A reply code embedded in other text: pasted bounces, MTA log lines, mail clients' and libraries' error messages
# print the server's reply after a prefix of their own. A number is taken for the reply code only when something
# ties it to the reply (`_embedded_code`): an enhanced status code of its class right after it, or a marker
# just before it. The markers, each seen in the source that prints it (tests/unit/test_codes_embedded.py cites
# them): a DSN's "smtp;" (RFC 3464), Postfix's "said:", qmail's "Remote host said:", Coremail's "RCPT TO said 550",
# Exchange's "returned '550", Sendmail's "reply=550" and Nodemailer's "response=554", Sendmail's and Courier's
# "<<< 550" transcript lines, Exim's "SMTP<< 550" (exim -v) and Claws Mail's "SMTP< 550" log, go-smtp's
# "SMTP error 550:" (and a plain "SMTP 550 ..."), punctuation that opens a quote or a field (';', ':', '=', quotes,
# '(', '['), and the start of a line after a line that ends with one of these (Gmail's "...returned was:" then the
# reply). Not part of a longer number, an IP address, a version, a time or a port ("host:587", JavaMail's
# "port: 587").
_EMBEDDED_CODE = re.compile(r"(?<![\w.:/-])([2-5][0-9]{2})(?=[ \-',:)\]]|$)")
# Before a code followed by a space, '-', "'" or the end of the line (the shape of a reply line).
_MARKER_BEFORE = re.compile(
    r"(?:\bsaid:?|\breturned|<<|\bsmtp(?:\s+(?:error|code|reply|response|status))*<?|[;'\"(\[:=])\s*$",
    re.IGNORECASE)
# Before a code followed by ',', ':', ')' or ']': only a prefix that names the number as the reply code, each
# with the punctuation its source puts after it (`_NAMED_CLOSE`): Roundcube's "SMTP Error (550): ..." and
# "SMTP Error: [554] ...", go-smtp's "SMTP error 550: ...", PEAR Mail's "(code: 550, response: ...)", Python
# smtplib's "(550, b'...')". A bare "[514]" or "(405)" is some other number (Orange's "OFR_514 [514]").
_NAMED_BEFORE = re.compile(
    r"(?:(?P<paren>\bsmtp(?:\s+(?:error|code|reply|response|status))*\s*\(\s*)"
    r"|(?P<smtp>\bsmtp(?:\s+(?:error|code|reply|response|status))*\s*)|(?P<field>code\"?\s*[:=]\s*)"
    r"|(?P<tuple>\(\s*)|(?P<bracket>:\s*\[\s*))$",
    re.IGNORECASE)
_NAMED_CLOSE = {"paren": ")", "smtp": ",:)]", "field": ",)", "tuple": ",", "bracket": "]"}
_TUPLE_REST = re.compile(r",\s*b?['\"]")  # smtplib's (code, message) tuple: "(550, b'5.1.1 ...')"
# Numbers after a marker that are no reply code: JavaMail's "..., port: 587, response: 421 ..."; the count in
# Postfix smtpd's anvil warnings ("Message delivery request rate limit exceeded: 334 from x[192.0.2.1] for service
# smtp", smtpd.c; also the connection, concurrency, recipient and TLS session limits); the message size in Exim's
# main and message logs ("<= user@example.com U=root P=local S=366 id=...": S= in the Exim spec's chapter "Log
# files", "Summary of fields in log lines").
_NOT_A_REPLY = re.compile(r"\b(?:port\s*[:=]?|limit exceeded:|s=)\s*$", re.IGNORECASE)
_TAIL = 48  # characters before a code that markers are looked for in: bounds the work on a long line
# RFC 3463 class.subject.detail; not part of an IP address or version number. The look-behind that keeps a
# word character or '.' from coming before the class digit is written after that digit ('[245]' then
# '(?<![\w.][245])', the same test): a search can then skip to the next 2, 4 or 5, which halves its cost on a reply
# without a status code (the look-behind first made it try the whole pattern at every character).
_ENHANCED = re.compile(r"([245])(?<![\w.][245])\.([0-9]{1,3})\.([0-9]{1,3})(?!\.?[0-9])")
# Where a status code without a basic code is trusted: at a line start, after "Status:" (RFC 3464) or '#', and
# after the phrase a client puts before a server reply whose basic code it dropped: .NET's SmtpException "The server
# response was: 5.7.0 ..." (System.Net.Mail Strings.resx MailServerResponse), Thunderbird's "The mail server
# responded: 5.1.1 ..." (composeMsgs.properties errorSendingMessage, smtpServerError).
_STATUS_FIELD = re.compile(r"(?:^|\bstatus:\s*|#|\bserver response was:|\bserver responded:)\s*$", re.IGNORECASE)

MAX_TEXT = 8192  # characters searched by wording rules: bounds regex work on hostile input


@dataclass(frozen=True, slots=True)
class ParsedReply:
    """One reply (or pasted reply text) taken apart."""

    text: str  # the input exactly as given
    code: int | None  # 200..599, or None when the text carries no valid reply code
    enhanced: str | None  # "5.1.1", only when its class digit agrees with `code` (or there is no code)
    lines: tuple[str, ...]  # each line's text after "NNN-"/"NNN " (the raw lines when not a reply)
    normalized: str  # "550 5.1.1 the email account ..." lowercased, whitespace collapsed, for rules
    # A reply quoted inside other text (a bounce, a log line, a queue listing): the reply alone, normalized the same
    # way, without the quoting MTA's words around it ("host x said:", "refused to talk to me:", "Diagnostic-Code:
    # smtp;" before it, what follows its paragraph or closes the bracket it stands in after it): what a rule written
    # for the reply itself ('^521 5.3.2 service currently unavailable$') is matched against too. Postfix's "(in reply
    # to RCPT TO command)" is kept: it names the command, and rules read it ('( \(in reply to mail from command\)|$)').
    # "" when the text is the reply (its code leads it) or carries no code.
    quoted: str = ""

    @property
    def reply_class(self) -> int | None:
        """The first digit of the code (2..5), or None."""
        return None if self.code is None else self.code // 100

    @property
    def body(self) -> str:
        """The normalized text without the leading code and enhanced code."""
        prefix = " ".join(p for p in (str(self.code) if self.code else "", self.enhanced or "") if p)
        return self.normalized[len(prefix):].strip() if self.normalized.startswith(prefix) else self.normalized


def valid_code(code: int | None) -> bool:
    """True for a three-digit reply code of class 2 to 5 (RFC 5321 §4.2.1)."""
    return code is not None and 200 <= code <= 599


def split_enhanced(value: str) -> tuple[int, int, int] | None:
    """'5.1.10' -> (5, 1, 10); None when it is not an RFC 3463 status code."""
    m = _ENHANCED.fullmatch(value.strip())
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def _status(m: re.Match[str]) -> str:
    """'5.1.1' as matched, or without leading zeros ('5.01.1' -> '5.1.1')."""
    found = m.group(0)
    return found if ".0" not in found else f"{int(m.group(1))}.{int(m.group(2))}.{int(m.group(3))}"


# A reply code with something before it on its line, right before a status code: "Response: 550 5.1.1 ..." inside a
# reply of its own (Exim's sender verification quotes the sender's server so: "550-Response: 550 5.1.1 <x>: ...
# User unknown" then "550 Sender verify failed"). That status is the quoted reply's, not this one's.
_QUOTED_REPLY_BEFORE = re.compile(r"\S.*?(?<![\w.])[245][0-9]{2}[ -]$")


def _find_enhanced(text: str, code: int | None) -> str | None:
    klass = None if code is None else str(code // 100)
    for m in _ENHANCED.finditer(text):
        if klass is not None:
            line_start = text.rfind("\n", 0, m.start()) + 1
            if m.group(1) == klass and not _QUOTED_REPLY_BEFORE.match(text, line_start, m.start()):
                return _status(m)
            continue
        # No basic code: only trust a status standing at a line start or after "Status:".
        line_start = text.rfind("\n", 0, m.start()) + 1
        if _STATUS_FIELD.search(text[line_start:m.start()]):
            return _status(m)
    return None


def _tied_to_reply(line: str, start: int, end: int, before_line: str) -> bool:
    """True when the code at line[start:end] is tied to a reply by what comes before it (see _EMBEDDED_CODE)."""
    tail = line[max(0, start - _TAIL):start]
    close = line[end:end + 1]
    if close in ("", " ", "-", "'"):
        if not tail.strip():  # at the start of a line: tied when the line before ends with a marker
            return bool(before_line) and _MARKER_BEFORE.search(before_line[-_TAIL:]) is not None
        tied = _MARKER_BEFORE.search(tail) is not None
    elif close == ":" and not tail.strip():  # "550: 5.1.1 ..." at the start of a line (Yahoo's bounces)
        return line[end + 1:end + 2] in ("", " ")
    else:
        named = _NAMED_BEFORE.search(tail)
        if named is None:
            return False
        kind = named.lastgroup or ""
        tied = _TUPLE_REST.match(line, end) is not None if kind == "tuple" else close in _NAMED_CLOSE[kind]
    return tied and _NOT_A_REPLY.search(tail) is None


def _embedded_code(raw_lines: list[str]) -> tuple[int | None, int, int]:
    """(code, line index, column after the code) of the best embedded reply code, or (None, -1, -1)."""
    fallback: tuple[int | None, int, int] = (None, -1, -1)
    before_line = ""  # the last non-blank line before this one
    for i, line in enumerate(raw_lines):
        for m in _EMBEDDED_CODE.finditer(line):
            code = int(m.group(1))
            after = line[m.end():]
            followed_by_status = _ENHANCED.match(after.lstrip(" -")) is not None
            if followed_by_status and int(after.lstrip(" -")[0]) == code // 100:
                return code, i, m.end()
            if fallback[0] is None and _tied_to_reply(line, m.start(), m.end(), before_line):
                fallback = (code, i, m.end())
        if line.strip():
            before_line = line.rstrip()
    return fallback


# Typographic quotes folded to ASCII: text pasted from a web page, a word processor or a mail client's rendering
# of a bounce carries "couldn\u2019t" for what the server sent as "couldn't"; rules and phrases are written in ASCII
# (the catalogue loader refuses these characters in them).
TYPOGRAPHIC_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u02bc": "'", "\u2032": "'",
                      "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"'}
_FOLD_QUOTES = str.maketrans(TYPOGRAPHIC_QUOTES)


def _collapse(text: str) -> str:
    # str.split splits on what \s matches, and drops the ends. The quotes folded are not ASCII, and an ASCII text
    # (most replies) is spared the translation, which costs more than the rest.
    return " ".join((text if text.isascii() else text.translate(_FOLD_QUOTES)).split()).lower()


def parse(text: object) -> ParsedReply:
    """Take reply text apart: "550-5.1.1 a\\n550 5.1.1 b", a bare pasted line, a bounce line.

    Never raises: anything without a valid 2xx-5xx code comes back with code None.
    """
    raw = text if isinstance(text, str) else str(text)
    raw_lines = raw.splitlines() or [""]
    first = raw_lines[0] if len(raw_lines) == 1 else next((ln for ln in raw_lines if ln.strip()), "")
    embedded = False
    m = _REPLY_LINE.match(first)
    code: int | None = None
    lines: list[str]
    if m and valid_code(first_code := int(m.group(1))):
        code = first_code
        if len(raw_lines) == 1:  # one line (most replies): the line just matched
            lines = [m.group(2).strip()]
        else:
            lines = []
            for ln in raw_lines:
                lm = _REPLY_LINE.match(ln)
                if lm and int(lm.group(1)) == code:
                    lines.append(lm.group(2).strip())
                elif ln.strip():
                    lines.append(ln.strip())
        search_from = "\n".join(lines)
    else:
        lines = [ln.strip() for ln in raw_lines if ln.strip()]
        if m is None:  # "999 hi" is a bad code, not an embedded one
            found, idx, col = _embedded_code(raw_lines)
            if found is not None:
                code, embedded = found, True
                search_from = "\n".join([raw_lines[idx][col:], *raw_lines[idx + 1:]])
        if code is None:
            search_from = raw
    enhanced = _find_enhanced(search_from[:MAX_TEXT], code)
    if enhanced:
        cut = len(enhanced)
        body = " ".join([ln[cut:] if ln.startswith(enhanced) else ln for ln in lines])
    else:
        body = " ".join(lines)
    body = _collapse(body[:MAX_TEXT])
    prefix = (f"{code} {enhanced}" if enhanced else str(code)) if code is not None else enhanced or ""
    normalized = f"{prefix} {body}" if prefix and body else prefix or body
    quoted = _quoted(search_from, prefix, enhanced, _open_brackets(raw_lines[idx][:col])) if embedded else ""
    return ParsedReply(raw, code, enhanced, tuple(lines), normalized, quoted)


_PARAGRAPH_END = re.compile(r"\n[ \t]*\n")


def _open_brackets(before: str) -> int:
    """How many round brackets the text before a code leaves open ("status=deferred (host x said: 550 ...")."""
    return max(0, before.count("(") - before.count(")"))


def _quoted(after_code: str, prefix: str, enhanced: str | None, opened: int) -> str:
    """The reply that starts at an embedded code, normalized (see ParsedReply.quoted): up to the end of its paragraph
    (a bounce quotes it in a paragraph of its own, folded over indented lines; what follows a blank line is not it),
    or, when it stands inside brackets (a log line's "status=bounced (...)", postqueue -p's "(...)" line), up to the
    bracket that closes them."""
    text = _PARAGRAPH_END.split(after_code[:MAX_TEXT], 1)[0]
    if opened:
        depth = opened
        for i, char in enumerate(text):
            depth += 1 if char == "(" else -1 if char == ")" else 0
            if depth < opened:
                text = text[:i]
                break
    body = _collapse(text)
    if enhanced and body.startswith(enhanced):
        body = body[len(enhanced):].lstrip()
    return f"{prefix} {body}" if body else prefix
