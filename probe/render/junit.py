"""Edge, pure: Report + HealthResult -> JUnit XML (Jenkins, GitLab, GitHub test reporters). No I/O.

One testcase per health check: WARNING/CRITICAL is a <failure>, UNKNOWN (could not
run) an <error>, a check that does not apply <skipped>. The transcript goes in
<system-out>. ElementTree does the escaping; characters XML 1.0 cannot carry at
all (control characters, lone surrogates from undecodable server bytes) are
written as visible \\xNN / \\uNNNN escapes first.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from probe.judge.health import Check, HealthResult
from probe.model import ExitCode, Report
from probe.render.safe import printable

# Everything outside XML 1.0's Char production: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | ...
_ILLEGAL_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """`text` made inert and XML-legal: terminal controls, C1 (U+009B) and bidi/format characters (U+202E)
    escaped by probe.render.safe.printable, then every character XML 1.0 forbids ("\\udce9") too."""
    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    inert = "\t".join(printable(part) for part in text.split("\t"))  # a tab is legal and harmless
    return _ILLEGAL_XML.sub(escape, inert)


def _seconds(ms: float | None) -> str:
    return f"{(ms or 0.0) / 1000:.3f}"


def _testcase(parent: ET.Element, check: Check, domain: str) -> None:
    classname = f"{domain}.{check.mx}" if check.mx else domain
    case = ET.SubElement(parent, "testcase", classname=xml_safe(classname), name=xml_safe(check.name),
                         time=_seconds(check.elapsed_ms))
    message = xml_safe(check.message)
    if check.skipped:
        ET.SubElement(case, "skipped", message=message)
    elif check.status is ExitCode.UNKNOWN:
        error = ET.SubElement(case, "error", message=message, type="unknown")
        error.text = xml_safe(check.detail) if check.detail else None
    elif check.status is not ExitCode.OK:
        failure = ET.SubElement(case, "failure", message=message, type=check.status.name.lower())
        failure.text = xml_safe(check.detail) if check.detail else None


def _counts(checks: list[Check]) -> dict[str, str]:
    skipped = sum(1 for c in checks if c.skipped)
    errors = sum(1 for c in checks if not c.skipped and c.status is ExitCode.UNKNOWN)
    failures = sum(1 for c in checks if not c.skipped and c.status in (ExitCode.WARNING, ExitCode.CRITICAL))
    return {"tests": str(len(checks)), "failures": str(failures), "errors": str(errors),
            "skipped": str(skipped)}


def render_junit(report: Report, health: HealthResult, transcript: str | None = None) -> str:
    """The JUnit XML document (with its declaration) for one probe, as a str ending in a newline."""
    counts = _counts(health.checks)
    elapsed = _seconds(report.elapsed_ms)
    root = ET.Element("testsuites", {"name": "smtp-probe", **counts, "time": elapsed})
    suite = ET.SubElement(root, "testsuite",
                          {"name": xml_safe(f"smtp-probe {report.domain}"), **counts, "time": elapsed})
    if report.started_at:
        # the JUnit schema's timestamp carries no zone; started_at is always UTC
        suite.set("timestamp", report.started_at.removesuffix("Z").removesuffix("+00:00"))
    properties = ET.SubElement(suite, "properties")
    status = "could_not_run" if report.error is not None else str(report.status)
    for name, value in (("domain", report.domain), ("status", status),
                        ("exit_code", str(int(health.exit_code))), ("state", health.state),
                        ("summary", health.summary)):
        ET.SubElement(properties, "property", name=name, value=xml_safe(value))
    for check in health.checks:
        _testcase(suite, check, report.domain)
    if transcript:
        ET.SubElement(suite, "system-out").text = xml_safe(transcript)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
