"""The README's two set-up commands are the ones that work, and CI runs the test one verbatim."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("failing", ["ruff", "mypy"])
def test_ci_runs_the_linters_before_the_tests_and_stops_on_a_lint_error(tmp_path: Path, failing: str) -> None:
    """The lines from the dev install on, run with stand-ins: a failing linter ends the run with
    its status, before any test starts (set -e alone would not stop at ruff inside an && list)."""
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if "'.[test,dev]'" in line)
    assert lines[start + 1].startswith("ruff check . && mypy") and start + 2 == len(lines) - 1
    tail = "\n".join(["set -euo pipefail", *lines[start:]]) + "\n"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("pip", "ruff", "mypy", "python"):
        stub = bin_dir / tool
        stub.write_text(f"#!/bin/sh\necho {tool} >> {tmp_path / 'ran'}\nexit {int(tool == failing)}\n")
        stub.chmod(0o755)
    done = subprocess.run(["bash", "-c", tail], env={"PATH": f"{bin_dir}:/usr/bin:/bin"}, cwd=tmp_path,
                          check=False)
    assert done.returncode == 1
    ran = (tmp_path / "ran").read_text().split()
    assert ran == ["pip", "ruff"] + (["mypy"] if failing == "mypy" else [])


def _install_lines() -> list[tuple[str, str]]:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [(doc.name, line.strip()) for doc in docs for line in doc.read_text().splitlines()
            if "pip install" in line]


def test_every_install_line_names_this_distribution() -> None:
    """`pip install harness` would install an unrelated package from the index."""
    lines = _install_lines()
    assert lines
    for doc, line in lines:
        target = re.split(r"[\s`;)&#]+", line.split("pip install", 1)[1].strip())
        assert target[0] in ("-e", "prompt-harness"), f"{doc}: {line}"
        if target[0] == "-e":
            assert target[1].strip("'\"").startswith("."), f"{doc}: {line}"


def test_the_distribution_is_prompt_harness_with_the_harness_command() -> None:
    from importlib.metadata import distribution

    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^name = "prompt-harness"$', text, re.MULTILINE)
    entry_points = distribution("prompt-harness").entry_points
    assert {(e.group, e.name, e.value) for e in entry_points} >= {
        ("console_scripts", "harness", "harness.cli:entry"),
        ("pytest11", "harness", "harness.pytest_plugin"),
    }
