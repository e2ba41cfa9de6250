"""The JSON report's text is json.dumps(indent=2, ensure_ascii=False)'s, byte for byte, however it
is written: reports are compared as text (harness diff, review of CI artifacts, pinned reports)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.errors import EXIT_FAILED
from harness.report.json_text import _MARK, indented
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import Project, network_blocked


class Stranger:
    """Not JSON: the report writes str() of it (default=str)."""

    def __str__(self) -> str:
        return 'a "stranger"\n\u2028é'


def expected(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str)


DOCUMENTS: list[Any] = [
    {},
    [],
    "text",
    0.1,
    None,
    {"a": [], "b": {}, "c": [[]], "d": [{}], "e": [1, [2, {"x": (3, 4)}]]},
    {1: "int key", 2.5: "float key", None: "null key", False: "bool key", "nested": {3: [4]}},
    [1e-05, 2.5e-07, 1.2e-05, -0.0, float("nan"), float("inf"), -float("inf"), 10**30, 1e22],
    ["é\x1b\"\\\t\u2028", Stranger(), {"k": [Stranger(), {"y": []}]}],
    [[[[]]]], [[[[1]]]], [{"a": 1}, {"b": [2, {"c": {}}]}, 3],
    # lists of flat records (a case's checks), and near misses of them
    [{"a": 1}, {"b": {}, "c": []}, {"d": "},\n    {"}], ({"x": 1},), [{"a": {}}, {"b": {}}], [{"a": 1}, 2],
    [{"a": [1]}], {"k": [{"a": 1, "b": None}, {"c": Stranger()}]}, [{"a": 1}, {}],
    # the marker this writer uses for its holes, in the data: the document is still written exactly
    {"a": [_MARK, {"b": [1]}]}, {_MARK: [1], "x": {"y": [2]}}, [Stranger(), [1, {"z": _MARK}]],
]


@pytest.mark.parametrize("doc", DOCUMENTS, ids=range(len(DOCUMENTS)))
def test_any_document_is_written_as_json_dumps_writes_it(doc: Any) -> None:
    assert indented(doc) == expected(doc)


def test_a_run_report_is_json_dumps_bytes(project: Project, fake: FakeOpenAI) -> None:
    fake.add_rule(Rule(contains="cheap", content="tiny"))
    project.suite("mix.yaml", """
        name: mix
        model: gpt-4o-mini
        pricing:
          gpt-4o-mini: {input: 0.15, output: 0.6}
        cases:
          - id: greet
            prompt: Say "good" morning, é.
            checks: [{contains: good}, {regex: "m.rning"}]
          - id: cheap
            prompt: Be cheap.
            checks: [{contains: good}]
          - id: topics
            prompt: "Explain {{ topic }}."
            matrix: {topic: [a, b]}
            samples: 2
            checks: [{contains: Explain}]
        """)
    assert project.record(fake, "suites").code == EXIT_FAILED
    fake.stop()
    with network_blocked():
        result = project.run("run", "suites", "--report", "json=out/run.json")
    assert result.code == EXIT_FAILED, result.text
    text = (Path(project.root) / "out" / "run.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    assert doc["summary"]["samples"]["cases"] == 2  # nested statistics, not only flat case rows
    assert any(c["cost_usd"] and c["cost_usd"] < 1e-4 for c in doc["cases"])  # Python writes it 1.2e-05
    assert text == expected(doc) + "\n"
