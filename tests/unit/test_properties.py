"""Property tests (hypothesis): the parser, the classifier and the wire reader against arbitrary input never break.

Whatever the text or bytes, `probe.diagnosis.codes.parse` and `probe.classify` return a result with a SPEC
reason and a JSON-ready `to_dict()`, and the Wire reply reader raises nothing but WireError.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe import classify
from probe.diagnosis.classifier import classify_reply, diagnose_event
from probe.diagnosis.codes import parse
from probe.model import Context, Diagnosis, Reason, Reply, ReplyClass, Severity
from probe.smtp.wire import Limits, Wire, WireError

CONTEXTS = st.one_of(st.none(), st.sampled_from(list(Context)))
CODE = st.from_regex(r"[2-5][0-9]{2}", fullmatch=True)
ODD_CODE = st.from_regex(r"[0-9]{1,4}|[016-9][0-9]{2}", fullmatch=True)
ENHANCED = st.from_regex(r"[0-9]\.[0-9]{1,4}\.[0-9]{1,4}", fullmatch=True)
WORDS = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@st.composite
def reply_shaped(draw: st.DrawFn) -> str:
    """Multi-line reply text: mostly one code, sometimes mixed or malformed codes, odd enhanced codes."""
    first = draw(CODE)
    lines = []
    for index in range(draw(st.integers(1, 6))):
        code = draw(st.one_of(st.just(first), CODE, ODD_CODE)) if index else first
        enhanced = draw(st.one_of(st.just(""), ENHANCED.map(lambda e: e + " ")))
        separator = draw(st.sampled_from([" ", "-", "", "  "]))
        lines.append(f"{code}{separator}{enhanced}{draw(WORDS)}")
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines)


ANY_TEXT = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda raw: raw.decode("latin-1")),
    st.from_regex(r"[2-5][0-9]{2}[ -][^\n]{0,80}", fullmatch=True),
    reply_shaped(),
)


def assert_sound(d: Diagnosis) -> None:
    assert isinstance(d.reason, Reason) and isinstance(d.severity, Severity)
    assert d.code is None or 200 <= d.code <= 599
    assert d.reply_class is None or isinstance(d.reply_class, ReplyClass)
    assert d.enhanced is None or (d.code is None or int(d.enhanced[0]) == d.code // 100)
    assert isinstance(d.meaning, str) and d.meaning and isinstance(d.remediation, str)
    data = d.to_dict()
    assert json.loads(json.dumps(data))["reason"] in {r.value for r in Reason}  # no default=: plain JSON types


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TEXT)
def test_parse_never_raises_and_keeps_the_text(text: str) -> None:
    parsed = parse(text)
    assert parsed.text == text
    assert parsed.code is None or 200 <= parsed.code <= 599
    if parsed.enhanced is not None:
        klass, subject, detail = parsed.enhanced.split(".")
        assert klass in "245" and subject.isdigit() and detail.isdigit()
        assert parsed.code is None or int(klass) == parsed.code // 100
    assert parsed.normalized == parsed.normalized.strip()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TEXT, CONTEXTS)
def test_classify_never_raises_and_gives_a_spec_reason(text: str, context: Context | None) -> None:
    d = classify(text, context)
    assert_sound(d)
    assert d.text == text and d.context == context


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.just(-1), st.integers(200, 599)), st.lists(WORDS, min_size=1, max_size=5), CONTEXTS)
def test_classify_reply_of_any_wire_reply_is_sound(code: int, lines: list[str], context: Context | None) -> None:
    assert_sound(classify_reply(Reply(code, tuple(lines)), context, host="mx.example.test"))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40), CONTEXTS, WORDS)
def test_any_event_id_is_diagnosed(event: str, context: Context | None, detail: str) -> None:
    assert_sound(diagnose_event(event, context, detail=detail))


# ---------------------------------------------------------------- the wire reader

SMALL = Limits(max_line=64, max_reply_bytes=256)
REPLY_BYTES = st.one_of(
    st.binary(max_size=400),
    reply_shaped().map(lambda text: text.encode("utf-8") + b"\r\n"),
    st.lists(reply_shaped().map(lambda t: t.encode("utf-8") + b"\r\n"), max_size=4).map(b"".join),
)


async def _feed(chunks: list[bytes], ending: str, limits: Limits) -> tuple[list[Reply], bytes, bytes]:
    """Serve `chunks` to a Wire, read replies until it breaks; (replies, transcript from server, bytes sent)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for chunk in chunks:
                writer.write(chunk)
                await writer.drain()
            if ending == "reset":
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            if ending == "hang":
                await reader.read()  # until the client leaves
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    replies: list[Reply] = []
    # A generous connect timeout (a loaded machine may take longer than 0.1 s to accept on loopback); only a
    # server that hangs needs a short read timeout to end the reading, and cutting a reply there is allowed
    wire = await Wire.connect("127.0.0.1", port, timeout_s=10.0, limits=limits)
    read_s = 0.1 if ending == "hang" else 10.0
    try:
        for _ in range(20):
            replies.append(await wire.read_reply(read_s, step="reading a hypothesis reply"))
            if len(replies) % 2 == 0:
                await wire.send("NOOP")  # the unsolicited-data check runs on what is left
    except WireError:
        pass
    finally:
        await wire.close(quit=ending != "hang")  # never raises (a hanging server would not answer QUIT)
        server.close()
        await server.wait_closed()
    received = b"".join(t.data for t in wire.transcript if t.direction == "S")
    return replies, received, b"".join(chunks)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(REPLY_BYTES, min_size=1, max_size=3), st.sampled_from(["close", "reset", "hang"]),
       st.sampled_from([SMALL, Limits()]))
def test_wire_reader_raises_only_wire_errors_and_keeps_bytes_exact(
        chunks: list[bytes], ending: str, limits: Limits) -> None:
    replies, received, sent = asyncio.run(_feed(chunks, ending, limits))
    for reply in replies:
        assert 200 <= reply.code <= 599 and len(reply.lines) >= 1
        assert sum(len(line) for line in reply.lines) <= limits.max_reply_bytes
    assert sent.startswith(received)  # the transcript holds exactly what came, in order, nothing invented
    assert len(received) <= len(sent)


def test_wire_reader_reads_a_well_formed_stream_whole() -> None:
    """The property test above can fail: a plain stream of replies comes back reply by reply."""
    replies, received, sent = asyncio.run(_feed([b"220 hi\r\n250-a\r\n", b"250 b\r\n"], "close", Limits()))
    assert replies == [Reply(220, ("hi",)), Reply(250, ("a", "b"))] and received == sent
