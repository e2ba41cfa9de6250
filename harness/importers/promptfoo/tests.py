"""promptfoo tests -> one typed Test each, from wherever the config keeps them: inline, YAML or
JSON files (globs too), and CSV files whose ``__expected`` columns hold assertions written as text
(``contains: Paris``, ``llm-rubric: ...``, ``not-icontains: sorry``; a bare text means equals),
read as promptfoo reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import UserError
from .report import Report
from .sources import SCRIPT_SUFFIXES, Source, is_ref, read_csv, read_data, ref_path, resolve

#: Assertion types a CSV cell may name (``type: value``, ``type(threshold): value``).
_TYPES = sorted([
    "equals", "contains", "icontains", "contains-all", "contains-any", "icontains-all", "icontains-any",
    "starts-with", "ends-with", "regex", "is-json", "contains-json", "is-valid-openai-tools-call",
    "is-valid-openai-function-call", "is-valid-function-call", "cost", "latency", "llm-rubric", "similar",
    "levenshtein", "rouge-n", "bleu", "gleu", "meteor", "perplexity", "perplexity-score",
    "answer-relevance", "context-faithfulness", "context-recall", "context-relevance", "factuality",
    "model-graded-closedqa", "model-graded-factuality", "moderation", "is-sql", "contains-sql", "is-xml",
    "contains-xml", "is-html", "contains-html", "is-refusal", "finish-reason", "word-count", "webhook",
    "classifier", "g-eval", "javascript", "python", "ruby", "select-best", "max-score", "guardrails", "pi",
    "tool-call-f1"
], key=len, reverse=True)
_CSV_ASSERTION = re.compile(rf"^(not-)?({'|'.join(map(re.escape, _TYPES))})(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$")
_LIST_TYPES = {"contains-all", "contains-any", "icontains-all", "icontains-any"}
_RAW_TYPES = {"is-json", "contains-json"}
_THRESHOLD_TYPES = {"answer-relevance", "classifier", "context-faithfulness", "context-recall",
                    "context-relevance", "cost", "latency", "levenshtein", "perplexity-score", "perplexity",
                    "rouge-n", "similar", "starts-with"}
TEST_KEYS = {"description", "vars", "assert", "options", "threshold", "metadata"}


@dataclass(frozen=True)
class Test:
    where: str
    source: Source  # where its assertions were written (lines inside it)
    description: str | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    asserts: list[Any] = field(default_factory=list)
    threshold: float | None = None
    options: dict[str, Any] = field(default_factory=dict)


def load_tests(raw: Any, source: Source, report: Report, container: Any, key: str) -> list[Test]:
    where = source.at(container, key)
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    tests: list[Test] = []
    for index, item in enumerate(items):
        at = source.at(items, index) if isinstance(raw, list) else where
        if isinstance(item, dict):
            tests.append(test_from(item, source, report, at))
        elif isinstance(item, str):
            try:
                tests.extend(_from_files(item, source, report))
            except UserError as exc:
                report.skip(at, item, str(exc))
        else:
            report.skip(at, "test", "expected a mapping or a file:// path")
    return tests


def test_from(item: dict[str, Any], source: Source, report: Report, where: str) -> Test:
    for key in set(item) - TEST_KEYS:
        report.skip(where, f"test {key}", "no equivalent in a harness case")
    if item.get("metadata"):
        report.skip(where, "test metadata", "harness cases carry no metadata")
    threshold = item.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
        report.skip(where, "threshold", f"not a number: {threshold!r}")
        threshold = None
    variables = item.get("vars") or {}
    if not isinstance(variables, dict):
        report.skip(where, "vars", "expected a mapping of names to values")
        variables = {}
    description = item.get("description")
    checks = item.get("assert") or []
    if not isinstance(checks, list):
        report.skip(where, "assert", "expected a list of assertions")
        checks = []
    options = item.get("options") or {}
    if not isinstance(options, dict):
        report.skip(where, "options", "expected a mapping")
        options = {}
    return Test(where, source, str(description) if description else None, dict(variables), checks, threshold,
                options)


def _from_files(text: str, source: Source, report: Report) -> list[Test]:
    if not is_ref(text) and "://" in text:
        raise UserError("tests from a remote dataset or sheet are not read; export them to CSV")
    name, function = ref_path(text)
    if function is not None or name.endswith(SCRIPT_SUFFIXES):
        raise UserError("tests made by code cannot be converted; write them to a CSV or YAML file")
    tests: list[Test] = []
    for path in resolve(source, name):
        inner = source.for_file(path)
        if path.suffix.lower() in (".csv", ".tsv"):
            tests.extend(_csv_tests(path, inner, report))
            continue
        data = read_data(source, path)
        rows = data if isinstance(data, list) else [data]
        for index, row in enumerate(rows):
            at = inner.at(rows, index) if isinstance(data, list) else inner.shown
            if isinstance(row, dict):
                tests.append(test_from(row, inner, report, at))
            else:
                report.skip(at, "test", "expected a mapping")
    return tests


def _csv_tests(path: Path, source: Source, report: Report) -> list[Test]:
    tests = []
    for row in read_csv(source, path):
        at = f"{source.shown}:{row.line}"
        here = Source(source.base, source.root, at)
        variables: dict[str, Any] = {}
        asserts: list[dict[str, Any]] = []
        configs: dict[int, float] = {}
        description: str | None = None
        threshold: float | None = None
        for key, value in row.cells.items():
            if key.startswith("__expected"):
                if value.strip():
                    asserts.append(assertion_from_text(value.strip()))
            elif key.startswith("__config:"):
                match = re.fullmatch(r"__config:__expected(\d*):threshold", key)
                if match and _number(value) is not None:
                    configs[int(match.group(1) or 1) - 1] = _number(value)  # type: ignore[assignment]
                elif value.strip():
                    report.skip(at, key, "expected __config:__expected<N>:threshold with a number")
            elif key == "__description":
                description = value or None
            elif key == "__threshold" and value.strip():
                threshold = _number(value)
                if threshold is None:
                    report.skip(at, key, f"not a number: {value!r}")
            elif key.startswith("__"):
                if value.strip():
                    report.skip(at, key, "no equivalent in a harness case")
            else:
                variables[key] = value
        for index, limit in configs.items():
            if index < len(asserts):
                asserts[index]["threshold"] = limit
        tests.append(Test(at, here, description, variables, asserts, threshold))
    return tests


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def assertion_from_text(text: str) -> dict[str, Any]:
    """A CSV cell's assertion, as promptfoo reads it."""
    for prefix in ("javascript:", "fn:", "eval:"):
        if text.startswith(prefix):
            return {"type": "javascript", "value": text[len(prefix):].strip()}
    if is_ref(text) and ref_path(text)[0].endswith((".js", ".cjs", ".mjs", ".ts")):
        return {"type": "javascript", "value": text}
    for prefix in ("grade:", "llm-rubric:"):
        if text.startswith(prefix):
            return {"type": "llm-rubric", "value": text[len(prefix):]}
    if text.startswith("python:"):
        return {"type": "python", "value": text[len("python:"):].strip()}
    if is_ref(text) and (text.endswith(".py") or ".py:" in text):
        return {"type": "python", "value": text}
    match = _CSV_ASSERTION.match(text)
    if match is None:
        return {"type": "equals", "value": text}
    negate, kind, threshold, value = match.groups()
    full = f"not-{kind}" if negate else kind
    if kind in _LIST_TYPES:
        return {"type": full, "value": [v.strip() for v in value.split(",")] if value else value}
    if kind in _RAW_TYPES:
        return {"type": full, "value": value}
    out: dict[str, Any] = {"type": full, "value": value.strip() if value else value}
    if kind in _THRESHOLD_TYPES:
        out["threshold"] = float(threshold) if threshold else 0.8 if kind == "similar" else 0.75
    return out
