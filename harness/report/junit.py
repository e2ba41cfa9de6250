"""JUnit XML: what every CI system already knows how to show, one testcase per case.

classname is the suite, name the case id. A failed case carries each failed check's reason; an
error carries its message; a stale or missing cassette is a failure that says which command
records it again (it is something to fix, not a skip); skipped is skipped. The answer goes to
system-out, so a CI page can show what the model said. Model output may hold characters XML 1.0
cannot carry: they are dropped rather than producing a file no parser reads.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from .common import answer_text, reasons, trim
from .records import CaseRecord, Comparison, RunRecord, totals

_INVALID_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MAX_OUT = 8_000


def _clean(text: str) -> str:
    return _INVALID_XML.sub("", text)


def _testcase(case: CaseRecord) -> ET.Element:
    name = case.name
    seconds = (case.latency_ms or 0.0) / 1000
    el = ET.Element("testcase", classname=_clean(case.suite), name=_clean(name), time=f"{seconds:.3f}",
                    file=_clean(case.suite_path))
    lines = reasons(case)
    if case.status == "failed":
        body = "\n".join(lines)
        if case.change is not None and case.change.changed:
            body += f"\n\nchanged since the baseline: {case.change.summary}\n{case.change.text_diff}"
        child = ET.SubElement(el, "failure", message=_clean(trim(lines[0] if lines else "failed", 500)),
                              type="failed")
        child.text = _clean(body)
    elif case.status == "error":
        child = ET.SubElement(el, "error", message=_clean(trim(lines[0] if lines else "error", 500)), type="error")
        child.text = _clean("\n".join(lines))
    elif case.status in ("stale", "missing"):
        what = "the request changed since it was recorded" if case.status == "stale" else "no cassette"
        message = f"{case.status} cassette ({what}); record it again: {case.rerecord}"
        child = ET.SubElement(el, "failure", message=_clean(message), type=case.status)
        child.text = _clean("\n".join(x for x in (case.message, case.detail, case.rerecord) if x))
    elif case.status == "skipped":
        ET.SubElement(el, "skipped", message=_clean(case.message or "skipped"))
    text = answer_text(case.answer)
    if text:
        ET.SubElement(el, "system-out").text = _clean(trim(text, MAX_OUT))
    return el


def render(run: RunRecord, comparison: Comparison | None = None) -> str:
    root = ET.Element("testsuites", name="harness")
    all_totals = totals(run.cases)
    for path, cases in run.by_suite().items():
        t = totals(cases)
        seconds = sum((c.latency_ms or 0.0) for c in cases) / 1000
        suite = ET.SubElement(root, "testsuite", name=_clean(cases[0].suite), tests=str(t.cases),
                              failures=str(t.counts["failed"] + t.counts["stale"] + t.counts["missing"]),
                              errors=str(t.counts["error"]), skipped=str(t.counts["skipped"]),
                              time=f"{seconds:.3f}", file=_clean(path))
        if run.created:
            suite.set("timestamp", run.created)
        suite.extend(_testcase(c) for c in cases)
    c = all_totals.counts
    root.set("tests", str(all_totals.cases))
    root.set("failures", str(c["failed"] + c["stale"] + c["missing"]))
    root.set("errors", str(c["error"]))
    root.set("skipped", str(c["skipped"]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
