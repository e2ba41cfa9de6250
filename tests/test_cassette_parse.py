"""The fast cassette loader answers exactly what PyYAML answers, or hands the file to PyYAML.

YAML 1.2 (yaml_rs) and YAML 1.1 (PyYAML) read some plain scalars, tags, anchors and characters
differently. Every scalar below is placed in every field of a cassette, plain, single-quoted and
double-quoted, in files written by hand and by harness's own writer (and recorded against the
loopback server); for each file the fast answer equals PyYAML's exactly (types and key order
included) or the file went to PyYAML. Hostile files fare no worse than with PyYAML alone.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import cassettes
from harness.cassettes import Interaction, parse
from harness.errors import UserError
from harness.testing.fake_openai import FakeOpenAI

from conftest import CANARY, Project

pytest.importorskip("yaml_rs")

REPO = Path(__file__).resolve().parent.parent

#: Scalars the two YAML versions (or the two libraries) may read differently, and plain ones.
TRICKY = [
    "yes", "no", "on", "off", "y", "n", "Y", "N", "Yes", "NO", "On", "OFF", "true", "True", "TRUE",
    "false", "False", "null", "Null", "NULL", "~", "", "2024-10-21", "2024-10-21 10:00:00",
    "2024-10-21T10:00:00Z", "1_000", "1__0", "1_", "1:20", "-1:20", "190:20:30", "017", "-017", "+017",
    "0o17", "0b1", "0b1_0", "0x1F", "0x1_F", "-0x1F", "+12", "-0", "+0", "0", "00", "09", "7", "200",
    "12345678901234567890123", "1e3", "1.0e3", "1.0e+3", "1.5", ".5", "-.5", "1.", ".inf", ".Inf",
    ".INF", "-.inf", "+.inf", ".NaN", ".nan", ".NAN", "=", "<<", "-", "!", "!!binary aGk=", "!!str 17",
    "!!int 17", "!!python/name:os.system", "!foo x", "! x", "&a x", "*a", "%YAML 1.1", "a\u2028b",
    "a\x85b", "\ufeffa", "a\x01b", "a\tb", "a: b", "a #b", "#c", "'", '"', "x\ny", "x\r\ny", " lead",
    "trail ", "- x", "? x", "| x", "> x", "[x]", "{x: 1}", "[017, 0o17]", "{a: 017}", "@x", "`x",
    "\U0001f600", "Ωmega", "Bonjour !", "R&D", "10:05", "a\\nb", "stop", "POST", "/chat/completions",
]

#: Strings an answer or a prompt often is, which must keep the fast road (written quoted or as a
#: block where YAML needs it).
BENIGN = ["stop", "POST", "Ωmega", "\U0001f600", "R&D", "a: b", "x\ny", "[x]", "{x: 1}", "'", '"', "y", "n",
          "a #b", "- x", "Echo hello"]


def _plain(value: str) -> str:
    return value


def _single(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _double(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


STYLES = [_plain, _single, _double]

#: A cassette as harness writes it, with {x} where a scalar goes (each field in turn, the others
#: ordinary), including a key and flow collections.
TEMPLATE = """\
# harness 0.1.0 cassette for s.yaml::c
interactions:
- harness:
    path: {path}
    prompt:
    - user: {prompt}
    answer: {answer}
    finish_reason: {finish}
    role: {role}
    step: {step}
    latency_ms: {latency}
  request:
    method: {method}
    uri: {uri}
    body: {body}
    headers:
      {key}:
      - {header}
      flow: {{k: {flowmap}}}
  response:
    status:
      code: {code}
      message: {message}
    headers:
      content-type: [{flowseq}]
    body:
      string: {string}
version: {version}
"""
ORDINARY = {"path": "/chat/completions", "prompt": "hello", "answer": "Echo hello", "finish": "stop",
            "role": "judge", "step": "1", "latency": "200", "method": "POST",
            "uri": "http://127.0.0.1:8080/v1/chat/completions", "body": "'{}'", "key": "content-type",
            "header": "application/json", "flowmap": "v", "code": "200", "message": "OK",
            "flowseq": "application/json", "string": "'{}'", "version": "1"}


def _same(a: Any, b: Any) -> bool:
    """Equal with types and key order: 1 == True and {a, b} == {b, a} do not count."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _route(text: str) -> str:
    """'fast' or 'pyyaml'; fails when the fast answer is not PyYAML's."""
    try:
        reference, error = yaml.load(text, Loader=yaml.CSafeLoader), None
    except yaml.YAMLError as exc:
        reference, error = None, exc
    fast = parse.fast_parse(text)
    if fast is None:
        return "pyyaml"
    assert error is None, f"fast loader read what PyYAML refuses ({error}):\n{text}"
    assert _same(fast, reference), f"fast {fast!r}\n!= PyYAML {reference!r}\nfor:\n{text}"
    return "fast"


def test_every_tricky_scalar_in_every_field_is_read_as_pyyaml_reads_it() -> None:
    routes: dict[str, int] = {"fast": 0, "pyyaml": 0}
    for value in TRICKY:
        for style in STYLES:
            for field in ORDINARY:
                text = TEMPLATE.format(**{**ORDINARY, field: style(value)})
                routes[_route(text)] += 1
    assert routes["fast"] and routes["pyyaml"], routes
    # The check must not be a refusal of everything: ordinary strings, quoted, go fast anywhere.
    assert _route(TEMPLATE.format(**ORDINARY)) == "fast"
    for value in (v for v in BENIGN if "\n" not in v):  # the writer's own forms are tested below
        for style in (_single, _double):
            for field in ("prompt", "answer", "uri", "header", "flowmap", "flowseq", "string", "message"):
                assert _route(TEMPLATE.format(**{**ORDINARY, field: style(value)})) == "fast", (field, value)


@pytest.mark.parametrize("line_end", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_tricky_answers_written_by_harness_read_back_as_pyyaml_reads_them(line_end: str) -> None:
    routes = {}
    for value in TRICKY + BENIGN:
        answer = {"id": "x", "object": "chat.completion", "created": 1700000000, "model": value,
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": value},
                               "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        interaction = Interaction(
            method="POST", uri="http://127.0.0.1:1/v1/chat/completions", path="/chat/completions",
            query={"api-version": value}, body={"model": value, "messages": [{"role": "user", "content": value}]},
            status=200, response_headers={"content-type": "application/json"},
            response_text=json.dumps(answer), latency_ms=1.5, ttft_ms=None,
            extra={"role": value, "step": 2, "turn": 1})
        text = cassettes.to_document("s.yaml::c", [interaction], rerecord="harness run s.yaml").replace("\n", line_end)
        routes[value] = _route(text)
        if routes[value] == "fast":  # and the interaction harness makes of it is the one PyYAML's gives
            with pytest.MonkeyPatch.context() as m:
                m.setattr(parse, "yaml_rs", None)
                reference = cassettes.from_document(text, Path("c.yaml"))
            assert cassettes.from_document(text, Path("c.yaml")) == reference
    assert all(routes[value] == "fast" for value in BENIGN), routes
    assert routes["yes"] == routes["017"] == routes["!"] == routes["a\u2028b"] == "pyyaml"


def test_the_shipped_cassettes_read_as_pyyaml_reads_them_and_mostly_fast() -> None:
    paths = sorted((REPO / "cassettes").rglob("*.yaml"))
    assert len(paths) > 100
    routes = [_route(p.read_text(encoding="utf-8")) for p in paths]
    assert routes.count("fast") >= 0.9 * len(routes), routes.count("pyyaml")


def test_without_yaml_rs_everything_goes_through_pyyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    text = TEMPLATE.format(**ORDINARY)
    assert parse.fast_parse(text) is not None
    monkeypatch.setattr(parse, "yaml_rs", None)
    assert parse.fast_parse(text) is None
    assert _same(parse.parse(text), yaml.load(text, Loader=yaml.CSafeLoader))


LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))
HOSTILE = {
    "billion-laughs": "interactions: []\nversion: 1\n" + LAUGHS,
    "undefined-alias": "interactions: *i\nversion: 1\n",
    "self-alias": "interactions: &i [*i]\nversion: 1\n",
    "deep-flow": "interactions: " + "[" * 20000 + "]" * 20000 + "\nversion: 1\n",
    "deep-block": "interactions:\n" + "".join(" " * i + "- k:\n" for i in range(0, 4000, 2)) + "version: 1\n",
    "huge-scalar": "interactions: []\nversion: 1\npadding: " + "x" * 20_000_000 + "\n",
    "duplicate-keys": "interactions: []\ninteractions: []\nversion: 1\n",
    "two-documents": "interactions: []\nversion: 1\n---\ninteractions: []\n",
    "python-tag": "interactions: !!python/object/apply:os.system ['true']\nversion: 1\n",
    "complex-key": "? [a, b]\n: 1\ninteractions: []\n",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_cassette_is_no_worse_than_with_pyyaml(tmp_path: Path, name: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(HOSTILE[name], encoding="utf-8")

    def outcome() -> str:
        try:
            return repr(cassettes.read(path))
        except UserError as exc:
            assert str(path) in str(exc)
            return f"{type(exc).__name__}: {exc}"

    fast = outcome()
    with pytest.MonkeyPatch.context() as m:
        m.setattr(parse, "yaml_rs", None)
        reference = outcome()
    assert fast == reference


SUITE = """
    model: gpt-4o
    cases:
"""


def test_a_recording_of_tricky_prompts_and_answers_replays_the_same_either_way(
        project: Project, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    # (the fake server reads a prompt's NEL as a space, so it would echo instead of answering)
    values = [v for v in TRICKY if v.strip() and "\r" not in v and "\x85" not in v]
    fake.responses.update({v: v for v in values})
    cases = "".join(f"      - id: c{i}\n        prompt: {_double(v)}\n        checks:\n"
                    f"          - equals: {_double(v)}\n" for i, v in enumerate(values))
    project.suite("tricky.yaml", SUITE + cases)
    recorded = project.run("run", "suites", "--record-mode", "once", "--base-url", fake.base_url,
                           env={"OPENAI_API_KEY": CANARY})
    assert recorded.code == 0, recorded.text
    fake.stop()
    files = project.cassette_files()
    assert len(files) == len(values)
    routes = [_route(p.read_text(encoding="utf-8")) for p in files]
    assert "fast" in routes and "pyyaml" in routes  # both roads taken

    def replay() -> tuple[int, list[dict[str, Any]]]:
        result = project.run("run", "suites", "--report", "json=run.json", env={"HARNESS_NO_CACHE": "1"})
        cases = json.loads((project.root / "run.json").read_text())["cases"]
        return result.code, [{k: v for k, v in c.items() if "ms" not in k and "time" not in k} for c in cases]

    fast = replay()
    monkeypatch.setattr(parse, "yaml_rs", None)
    assert replay() == fast
    assert fast[0] == 0 and all(c["status"] == "passed" for c in fast[1])


def test_a_ci_run_writes_no_parse_cache_and_answers_the_same(project: Project, fake: FakeOpenAI) -> None:
    """A CI job starts from a fresh checkout and throws the folder away: a cache it wrote would never
    be read. Elsewhere a replay writes it, and a later replay reads it."""
    project.suite("s.yaml", SUITE + "".join(
        f"      - id: c{i}\n        prompt: hello {i}\n        checks:\n          - contains: hello\n" for i in range(3)))
    assert project.record(fake, "suites").code == 0
    fake.stop()
    cache = project.root / ".harness" / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    on_ci = project.run("run", "suites", env={"CI": "true"})
    assert on_ci.code == 0 and "3 passed" in on_ci.out, on_ci.text
    assert not list(cache.glob("*.json"))
    project.monkeypatch.delenv("CI", raising=False)
    local = project.run("run", "suites")
    assert local.code == 0 and "3 passed" in local.out
    assert list(cache.glob("*.json"))


#: Files that must not take the fast road, each for one of the checks made before or after yaml_rs
#: reads the text: a control character in ASCII text, a line starting with ``:``, a flow mapping's
#: first key broken across lines, keys PyYAML reads as another type (plain or quoted, first seen
#: as a key of an ordinary file), and nesting deeper than the walk goes.
ROUTED_TO_PYYAML = {
    "control-char": "interactions: []\nversion: 1\nx: 'a\x01b'\n",
    "delete-char": "interactions: []\nversion: 1\nx: 'a\x7fb'\n",
    "vertical-tab": "interactions: []\nversion: 1\nx: 'a\x0bb'\n",
    "colon-line": "interactions: []\nversion: 1\nx:\n  ? a\n  : b\n",
    "colon-line-indented": "interactions: []\nversion: 1\nx: [a,\n   : b]\n",
    "flow-key-across-lines": "interactions: []\nversion: 1\nx: {a\n  b: c}\n",
    "int-key": "interactions: []\nversion: 1\n1: a\n",
    "bool-key": "interactions: []\nversion: 1\nyes: a\n",
    "quoted-bool-key": "interactions: []\nversion: 1\n'on': a\n",
    "null-key": "interactions: []\nversion: 1\n~: a\n",
    "float-value": "interactions: []\nversion: 1\nx: 1.5\n",
    "deep": "interactions: []\nversion: 1\nx: " + "[" * 60 + "]" * 60 + "\n",
    "deep-block": "interactions: []\nversion: 1\n" + "".join(" " * i + f"k{i}:\n" for i in range(0, 120, 2))
                  + " " * 120 + "v: 1\n",
}


@pytest.mark.parametrize("name", list(ROUTED_TO_PYYAML))
def test_what_the_fast_road_cannot_prove_goes_to_pyyaml(name: str) -> None:
    assert _route(TEMPLATE.format(**ORDINARY)) == "fast"  # its keys are now known good keys
    assert _route(ROUTED_TO_PYYAML[name]) == "pyyaml"


def test_nesting_within_the_walk_goes_fast_and_reads_as_pyyaml() -> None:
    for depth in (1, 10, 40):
        assert _route("interactions: []\nversion: 1\nx: " + "[" * depth + "a" + "]" * depth + "\n") == "fast"
        block = "".join(" " * i + f"k{i}:\n" for i in range(0, 2 * depth, 2))
        assert _route("interactions: []\nversion: 1\n" + block + " " * 2 * depth + "v: a\n") == "fast"


def test_known_keys_do_not_hide_a_leaf_or_key_that_differs() -> None:
    """A file whose keys were all seen before is still walked leaf by leaf, and a key seen before
    beside one never seen is judged again."""
    ordinary = TEMPLATE.format(**ORDINARY)
    assert _route(ordinary) == "fast"
    for field, value in (("answer", "yes"), ("message", "1.5"), ("prompt", "017"), ("flowmap", "on")):
        assert _route(TEMPLATE.format(**{**ORDINARY, field: value})) == "pyyaml", field
    assert _route(ordinary.replace("version: 1\n", "version: 1\nNo: x\n")) == "pyyaml"
    assert _route(ordinary.replace("version: 1\n", "version: 1\nnew_key: x\n")) == "fast"
