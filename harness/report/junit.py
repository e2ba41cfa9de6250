"""JUnit XML: what every CI system already knows how to show, one testcase per case.

classname is the suite, name the case id. A case with samples is one testcase named by its id
(see ``_sampled_testcase``), its rate in system-out. A failed case carries each failed check's reason; an
error carries its message; a stale or missing cassette is a failure that says which command
records it again (it is something to fix, not a skip); skipped is skipped. The answer goes to
system-out, so a CI page can show what the model said; for a failing multi-step case, its whole
trajectory (each step's tool calls, results and answer). Model output may hold characters XML 1.0
cannot carry: they are dropped rather than producing a file no parser reads.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter

from ..trajectory import as_text
from .common import answer_text, reasons, trim
from .records import CaseRecord, Comparison, RunRecord
from .sampled import CaseSamples, outcomes, sampled_cases

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
    if case.steps and case.status in ("failed", "error", "stale"):  # what the agent did, step by step
        text = as_text(case.steps, case.stopped)
    if text:
        ET.SubElement(el, "system-out").text = _clean(trim(text, MAX_OUT))
    return el


def _sampled_testcase(group: CaseSamples) -> ET.Element:
    """A case with samples is one testcase, failing only when the case fails as a whole (its gate,
    or every sample must pass): a CI page then counts cases, and a gate that tolerates a failing
    sample never shows red. Each failing sample's reasons are in the failure's text."""
    seconds = sum(c.latency_ms or 0.0 for c in group.records) / 1000
    el = ET.Element("testcase", classname=_clean(group.suite), name=_clean(group.id), time=f"{seconds:.3f}",
                    file=_clean(group.suite_path))
    why = group.reasons()
    lines = why + [f"{c.name}: {line}" for c in group.records if c.failing for line in reasons(c)]
    if group.status in ("failed", "stale", "missing"):
        child = ET.SubElement(el, "failure", message=_clean(trim(why[0] if why else group.status, 500)),
                              type=group.status)
        child.text = _clean("\n".join(lines + [c.rerecord for c in group.records if c.rerecord][:1]))
    elif group.status == "error":
        child = ET.SubElement(el, "error", message=_clean(trim(why[0] if why else "error", 500)), type="error")
        child.text = _clean("\n".join(lines))
    elif group.status == "skipped":
        ET.SubElement(el, "skipped", message=_clean(group.records[0].message or "skipped"))
    stats = " · ".join(x for x in (group.summary, group.estimates, "flaky" if group.flaky else "") if x)
    ET.SubElement(el, "system-out").text = _clean(stats)
    return el


def render(run: RunRecord, comparison: Comparison | None = None) -> str:
    root = ET.Element("testsuites", name="harness")
    sampled = sampled_cases(run)
    overall: Counter[str] = Counter()
    for path, cases in run.by_suite().items():
        counts = Counter(u.status for u in outcomes(RunRecord(tuple(cases)), sampled))
        overall.update(counts)
        seconds = sum((c.latency_ms or 0.0) for c in cases) / 1000
        suite = ET.SubElement(root, "testsuite", name=_clean(cases[0].suite), tests=str(counts.total()),
                              failures=str(counts["failed"] + counts["stale"] + counts["missing"]),
                              errors=str(counts["error"]), skipped=str(counts["skipped"]),
                              time=f"{seconds:.3f}", file=_clean(path))
        if run.created:
            suite.set("timestamp", run.created)
        done: set[str] = set()
        for case in cases:
            if case.node_id not in sampled:
                suite.append(_testcase(case))
            elif case.node_id not in done:
                done.add(case.node_id)
                suite.append(_sampled_testcase(sampled[case.node_id]))
    root.set("tests", str(overall.total()))
    root.set("failures", str(overall["failed"] + overall["stale"] + overall["missing"]))
    root.set("errors", str(overall["error"]))
    root.set("skipped", str(overall["skipped"]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
