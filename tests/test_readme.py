"""The README's two set-up commands are the ones that work, and CI runs the test one verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL)]


def test_readme_has_the_two_setup_commands() -> None:
    run, test = _setup_commands()
    assert run == "pip install -e . && harness run suites/"
    assert test.startswith("pip install -e '.[test]' && python -m pytest")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _run, test = _setup_commands()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert ci_lines[-1] == test
