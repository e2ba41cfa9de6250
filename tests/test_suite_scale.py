"""Large suites: what is done once per suite stays right when it is no longer done per case.

The schema's quick check (the document once, then each case against the case rule) must give the
whole schema's verdict on every suite; a broken case in a large suite is still reported at its own
line, with its id; and a replay still loads neither the SDK nor the HTTP client.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.schemas.suite_errors import CaseRule, _split_validators, _validator, is_valid_suite
from harness.testing.fake_openai import FakeOpenAI
from harness.yamlio import load_yaml

from conftest import Project

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p for folder in ("suites", "examples", "tests/fixtures") for p in (REPO / folder).rglob("*.yaml")
                 if "cassettes" not in p.parts)


def _suite_docs() -> list[Path]:
    return [p for p in SHIPPED if isinstance(doc := load_yaml(p), dict) and ("cases" in doc or "cases_from" in doc)]


@pytest.mark.parametrize("path", _suite_docs(), ids=lambda p: str(p.relative_to(REPO)))
def test_quick_check_agrees_with_the_whole_schema_on_shipped_suites(path: Path) -> None:
    doc = load_yaml(path)
    assert is_valid_suite(doc) == _validator().is_valid(doc)


BROKEN_CASES = {
    "bad id": {"id": "-no", "prompt": "hi"},
    "unknown key": {"id": "a", "prompt": "hi", "promt": "typo"},
    "turns not a list": {"id": "a", "prompt": "hi", "turns": 5},  # the case rule refers to #/properties/turns
    "max_steps too low": {"id": "a", "prompt": "hi", "max_steps": 0},
    "message without content": {"id": "a", "messages": [{"role": "user"}]},
    "a case that is a text": "just a prompt",
    "valid turns": {"id": "a", "prompt": "hi", "turns": ["and then?"], "max_steps": 3},
    "no id": {"prompt": "hi"},
    "id not a text": {"id": 5, "prompt": "hi"},
    "a key that is a number": {"id": "a", "prompt": "hi", 1: "x"},
    "a flag for a number": {"id": "a", "prompt": "hi", "temperature": True},
    "a whole float for an integer": {"id": "a", "prompt": "hi", "max_tokens": 64.0},
    "models twice": {"id": "a", "prompt": "hi", "models": ["m", "m"]},
    "many valid keys": {"id": "a", "prompt": "hi {{ x }}", "model": "m", "temperature": 0.5, "samples": 3,
                        "vars": {"x": 1}, "checks": [{"contains": "a"}, {"regex": "b", "weight": 2}],
                        "skip": "later", "api": ["chat", "responses"], "max_tokens": 10},
    "a broken check": {"id": "a", "prompt": "hi", "checks": [{"contains": "a", "step": 0}]},
    "a list for a case": ["id", "a"],
}


@pytest.mark.parametrize("case", list(BROKEN_CASES.values()), ids=list(BROKEN_CASES))
def test_quick_check_agrees_with_the_whole_schema_on_each_case(case: object) -> None:
    doc = {"name": "s", "model": "gpt-4o", "cases": [{"id": "ok", "prompt": "fine"}, case]}
    assert is_valid_suite(doc) == _validator().is_valid(doc)
    top = {"name": "s", "model": "gpt-4o", "cases": [], "modle": "x"}
    assert is_valid_suite(top) == _validator().is_valid(top) is False


def test_the_quick_check_judges_each_case_key_by_key() -> None:
    """The shipped case rule is one the quick check judges key by key (not the whole walk)."""
    split = _split_validators()
    assert split is not None and isinstance(split[1], CaseRule)


def test_a_broken_case_among_thousands_is_told_at_its_line(project: Project) -> None:
    cases = "".join(f"  - id: c{i:04d}\n    prompt: \"question {i}\"\n" for i in range(3000))
    broken = "  - id: c3000\n    prompt: \"question\"\n    turns: 5\n"
    project.suite("big.yaml", "name: big\nmodel: gpt-4o\ncases:\n" + cases + broken)
    result = project.run("validate", "suites/big.yaml")
    assert result.code == 2
    line = 3 + 2 * 3000 + 3
    assert f"suites/big.yaml:{line} [case c3000]: invalid suite at cases/3000/turns:" in result.err, result.err
    assert "Traceback" not in result.text


def _python(project: Project, code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter in the project: what it imports is its own, not this test run's."""
    return subprocess.run([sys.executable, "-c", code], cwd=project.root, capture_output=True, text=True,
                          check=False)


def test_a_replay_imports_neither_the_sdk_nor_the_http_client(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", """
        name: s
        model: gpt-4o
        checks: [{contains: "Echo"}]
        cases:
          - id: one
            prompt: "hello"
          - id: two
            prompt: "{{ greeting }} there"
            vars: {greeting: hi}
            turns: ["and again"]
    """)
    assert project.record(fake, "suites").code == 0
    fake.stop()
    code = ("import sys; from harness.cli import main\n"
            "rc = main(['run', 'suites', '-q'])\n"
            "loaded = [m for m in ('openai', 'httpx', 'httpx2', 'harness.transport') if m in sys.modules]\n"
            "assert not loaded, f'a replay imported {loaded}'\n"
            "sys.exit(rc)\n")
    done = _python(project, code)
    assert done.returncode == 0 and "2 passed" in done.stdout, done.stdout + done.stderr


def test_a_replay_of_plain_prompts_imports_no_template_engine(project: Project, fake: FakeOpenAI) -> None:
    """Prompts without template syntax never need Jinja, a suite without ``cases_from`` never needs
    the data readers, and built-in checks never need the entry-point lookup: a replay of such a
    suite imports none of them; a template then still renders (and is still sandboxed)."""
    project.suite("s.yaml", """
        name: s
        model: gpt-4o
        checks: [{contains: "Echo"}]
        cases:
          - id: one
            prompt: "hello"
          - id: two
            prompt: "hello again"
    """)
    project.suite("t.yaml", """
        name: t
        model: gpt-4o
        cases:
          - id: greet
            prompt: "{{ greeting }} there"
            vars: {greeting: hi}
    """)
    assert project.record(fake, "suites").code == 0
    fake.stop()
    unwanted = ("jinja2", "harness.template_sandbox", "harness.datasets", "importlib.metadata")
    code = ("import sys; from harness.cli import main\n"
            "rc = main(['run', 'suites/s.yaml', '-q'])\n"
            f"loaded = [m for m in {unwanted!r} if m in sys.modules]\n"
            "assert not loaded, f'a replay of plain prompts imported {loaded}'\n"
            "rc = rc or main(['run', 'suites/t.yaml', '-q'])\n"
            "assert 'jinja2' in sys.modules\n"
            "sys.exit(rc)\n")
    done = _python(project, code)
    assert done.returncode == 0 and "2 passed" in done.stdout and "1 passed" in done.stdout, \
        done.stdout + done.stderr
