"""`smtp-probe batch FILE|-`: JSON Lines out, summary on stderr, --resume, exit code = worst result."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from probe.testing.fakedns import FakeDNS
from probe.testing.fakesmtp import FakeSMTP

ZONE = """$ORIGIN c.test.
@        SOA ns.c.test. h.c.test. 1 3600 600 86400 60
one      MX 10 mx
nullmx   MX 0 .
mx       A  127.0.0.1
"""


async def smtp_probe(*args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "probe", *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_batch_from_stdin_and_resume(tmp_path: Path, validate_report: Any) -> None:
    async with FakeDNS({"c.test.": ZONE}) as dns, FakeSMTP(rcpt_default="250 2.1.5 Ok") as smtp:
        common = ["--resolver", f"127.0.0.1:{dns.port}", "--port", str(smtp.port), "--timeout", "2",
                  "--no-tls-policies", "--starttls", "never", "--no-catch-all", "--helo", "probe.c.test"]
        code, out, err = await smtp_probe("batch", "-", *common, stdin=b"a@one.c.test\nnullmx.c.test\nbad\x01x\n")
        results = [json.loads(line) for line in out.splitlines()]
        for result in results:
            validate_report(result)
        assert [r["line"] for r in results] == [1, 2, 3]
        assert results[0]["addresses"][0]["verdict"] == "deliverable"
        assert results[1]["status"] == "does_not_accept_mail" and results[2]["error"]
        assert code == 2  # the worst probe result; the bad line does not make the run UNKNOWN
        assert "smtp-probe batch: 3 results" in err

        targets = tmp_path / "targets.txt"
        targets.write_text("a@one.c.test\nnullmx.c.test\n", encoding="utf-8")
        previous = tmp_path / "out.jsonl"
        previous.write_text(json.dumps(results[0]) + "\n", encoding="utf-8")
        code, out, err = await smtp_probe("batch", str(targets), "--resume", str(previous), *common)
        lines = previous.read_text(encoding="utf-8").splitlines()
        assert [json.loads(line)["line"] for line in lines] == [1, 2]
        assert "1 skipped as already answered" in err and code == 2


async def test_every_line_bad_is_unknown(validate_report: Any) -> None:
    code, out, _err = await smtp_probe("batch", "-", stdin=b"exa\x02mple.com\n")
    assert code == 3 and json.loads(out)["error"]
    validate_report(json.loads(out))


async def test_missing_file_is_one_line_exit_3() -> None:
    code, _, err = await smtp_probe("batch", "/nonexistent/targets.txt")
    assert code == 3 and err.count("\n") == 1 and "cannot read" in err


async def test_resume_after_a_cut_line_repairs_the_file(tmp_path: Path) -> None:
    async with FakeDNS({"c.test.": ZONE}) as dns, FakeSMTP(rcpt_default="250 2.1.5 Ok") as smtp:
        common = ["--resolver", f"127.0.0.1:{dns.port}", "--port", str(smtp.port), "--timeout", "2",
                  "--no-tls-policies", "--starttls", "never", "--no-catch-all", "--helo", "probe.c.test"]
        targets = tmp_path / "targets.txt"
        targets.write_text("a@one.c.test\nnullmx.c.test\n", encoding="utf-8")
        previous = tmp_path / "out.jsonl"
        previous.write_text('{"schema": "smtp-probe/1", "line": 1, "inp', encoding="utf-8")  # killed mid-write
        code, _out, _err = await smtp_probe("batch", str(targets), "--resume", str(previous), *common)
    lines = previous.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["line"] for line in lines] == [1, 2] and code == 2, "valid JSON Lines, line 1 again"
    assert "its last line was cut short by an interrupted run; removed it" in _err


async def test_empty_input_exits_3_with_one_line() -> None:
    code, out, err = await smtp_probe("batch", "-", stdin=b"# only a comment\n\ndomain,address\n")
    assert code == 3 and out == ""
    assert err == "smtp-probe: no targets in standard input (only blank lines, comments or a header): " \
                  "nothing was probed\n"


async def test_batch_lines_validate_against_the_schema(validate_report: Any) -> None:
    code, out, _err = await smtp_probe("batch", "-", stdin=b"exa\x02mple.com\n\"a b\",\"c\"\n")
    for line in out.splitlines():
        validate_report(json.loads(line))
    assert code == 3
