"""Hostile suites: absurd names, numbers and matrices are one clear line (exit 2) or just work."""

from __future__ import annotations

import time

import pytest
import yaml

from harness.errors import UserError
from harness.suite import load_suite
from harness.testing.fake_openai import FakeOpenAI

from conftest import Project, network_blocked


def test_long_suite_name_and_long_ids_get_short_file_names(project: Project, fake: FakeOpenAI) -> None:
    name = "s" * 300
    case_id = "c" * 80
    values = [str(i) + "v" * 45 for i in range(2)]
    project.suite("long.yaml", f"""
        name: {name}
        model: gpt-4o
        samples: 2
        cases:
          - id: {case_id}
            prompt: "{{{{ a }}}} {{{{ b }}}} {{{{ c }}}} {{{{ d }}}}"
            matrix:
              a: {values}
              b: {values}
              c: {values}
              d: {values}
          - id: short
            prompt: hi
    """)
    result = project.record(fake, "suites")
    assert result.code == 0, result.text
    files = project.cassette_files()
    assert len(files) == 2 * 16 + 2
    for path in files:
        assert len(path.name.encode()) <= 255 and len(path.parent.name.encode()) <= 255
    folder = files[0].parent
    assert folder.name.startswith("s" * 40) and len(folder.name) < 120
    assert sorted(p.name for p in folder.glob("short*")) == ["short#1.yaml", "short.yaml"]
    long_ids = [p for p in files if p.name.startswith("c" * 40)]
    full_id = f"{case_id}[{'-'.join([values[0][:40]] * 4)}]"
    headers = [p.read_text().splitlines()[0] for p in long_ids]
    assert any(h.endswith(f"::{full_id}") for h in headers)  # the full id is kept inside the cassette
    for path in long_ids:
        assert yaml.safe_load(path.read_text())["version"] == 1
    fake.stop()
    with network_blocked() as attempts:
        replay = project.run("run", "suites")
    assert attempts == [] and replay.code == 0, replay.text
    assert "34 passed" in replay.out


@pytest.mark.parametrize(("digits", "says"), [
    ("9" * 5000, "integer with 5000 digits"),
    ("1" + "0" * 30, "is greater than the maximum of"),
], ids=["5000-digits", "1e30"])
def test_absurd_integers_are_one_clear_line(project: Project, digits: str, says: str) -> None:
    project.suite("big.yaml", f"model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n    max_tokens: {digits}\n")
    result = project.run("run", "suites")
    assert result.code == 2 and "Traceback" not in result.text, result.text
    assert "suites/big.yaml:5 [case a]: " in result.err and says in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert len(result.err) < 400  # a 5000-digit number is not echoed back


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN"])
def test_non_finite_numbers_are_refused_anywhere(project: Project, value: str) -> None:
    project.suite("nan.yaml", f"model: gpt-4o\ntemperature: {value}\ncases:\n  - id: a\n    prompt: hi\n")
    project.suite("nan2.yaml", f"model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n    vars:\n      x: [1, {value}]\n")
    for name, where in (("nan.yaml", "2"), ("nan2.yaml", "6 [case a]")):
        result = project.run("validate", f"suites/{name}")
        assert result.code == 2 and "Traceback" not in result.text, result.text
        assert f"suites/{name}:{where}: " in result.err and "not a finite number" in result.err


def test_matrix_expansion_is_capped_before_expanding(project: Project) -> None:
    axes = "".join(f"      v{i}: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n" for i in range(10))
    project.suite("mx.yaml", f"model: gpt-4o\ncases:\n  - id: ok\n    prompt: hi\n"
                             f"  - id: huge\n    prompt: hi\n    matrix:\n{axes}")
    started = time.monotonic()
    result = project.run("validate", "suites")
    assert time.monotonic() - started < 10
    assert result.code == 2 and "Traceback" not in result.text, result.text
    assert "suites/mx.yaml:5 [case huge]: " in result.err
    assert "10,000,000,001 cases" in result.err and "at most 10,000" in result.err


def test_the_cap_counts_models_and_samples(project: Project) -> None:
    head = "models: [gpt-4o, gpt-4o-mini]\nsamples: 5\ncases:\n  - id: m\n    prompt: hi\n    matrix:\n"
    path = project.suite("mx.yaml", head + f"      a: {list(range(100))}\n      b: {list(range(10))}\n")
    assert len(load_suite(path).cases) == 10_000  # 100 x 10 x 2 models x 5 samples: the cap itself
    path.write_text(head + f"      a: {list(range(101))}\n      b: {list(range(10))}\n")
    with pytest.raises(UserError, match="10,100 cases"):
        load_suite(path)
