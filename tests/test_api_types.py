"""The Python API as a user's type checker and the README see it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

TYPED_USE = '''
from __future__ import annotations

import harness


@harness.check("shorter_than")
def shorter_than(output: harness.Output, *, limit: int) -> bool:
    return len(output.content or "") < limit


result: harness.RunResult = harness.run("suites", record_mode="once", models=["gpt-4o"], samples=2)
code: int = result.exit_code
for case in result.cases:
    status: str = case.status
    cost: float | None = case.cost_usd
    tokens: int | None = case.tokens
    passed: list[bool] = [check.passed for check in case.checks]
suite: harness.Suite = harness.load_suite("suites/x.yaml")
ids: list[str] = [c.id for c in suite.cases]
same: bool = shorter_than(harness.Output(content="hi"), limit=3)
'''

MISUSE = '''
from __future__ import annotations

import harness


@harness.check("shorter_than")
def shorter_than(output: harness.Output, *, limit: int) -> bool:
    return len(output.content or "") < limit


harness.run("suites", record_mode="sometimes")
harness.runn("suites")
name: str = harness.run("suites").exit_code
shorter_than(harness.Output(content="hi"), limit="3")
'''


@pytest.mark.slow
def test_mypy_accepts_typed_use_of_the_api_and_catches_its_misuse(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    (tmp_path / "typed_use.py").write_text(TYPED_USE)
    (tmp_path / "misuse.py").write_text(MISUSE)
    # follow-imports=silent: harness's own modules are checked by the project's mypy run; here
    # only what a user's code sees of them counts, as for an installed package.
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
                           "--cache-dir", str(tmp_path / "cache"), "typed_use.py", "misuse.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert not [e for e in errors if e.startswith("typed_use.py")], done.stdout
    assert [e.split(": error:")[0] for e in errors] == [f"misuse.py:{n}" for n in (12, 13, 14, 15)], done.stdout
    assert '"record_mode"' in errors[0] and 'no attribute "runn"' in errors[1]
    assert 'has type "int", variable has type "str"' in errors[2] and '"limit"' in errors[3]


def test_the_package_ships_its_type_marker() -> None:
    assert resources.files("harness").joinpath("py.typed").is_file()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^harness = \[.*"py\.typed".*\]', pyproject, re.MULTILINE)


def _python_api_section() -> tuple[str, str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    shown = re.findall(r"```text\n(.*?)```", section, re.DOTALL)
    return code[0], shown[0]


def test_the_readme_python_example_runs_and_prints_what_the_readme_shows(tmp_path: Path) -> None:
    code, shown = _python_api_section()
    script = tmp_path / "example.py"
    script.write_text(code)
    env = {**os.environ, "HARNESS_NO_CACHE": "1"}  # nothing written into the repository
    env = {k: v for k, v in env.items() if "KEY" not in k}
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == textwrap.dedent(shown), done.stdout
