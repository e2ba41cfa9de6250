"""Statistics appear only where samples > 1: the shipped single-sample suites (IFEval's tolerated
failures and min_pass_rate gate among them) must print and report exactly what they did before.

The terminal output and the Markdown report are pinned as text; the JSON, JUnit and HTML reports
(1.5 MB together) by the SHA-256 of their text. Only what changes from run to run is normalised:
the elapsed time, the creation time and the version.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

from conftest import Project

ROOT = Path(__file__).resolve().parents[1]
PINNED = Path(__file__).parent / "data" / "pinned"
REPORTS = ("json", "markdown", "junit", "html")


def normalise(text: str) -> str:
    text = re.sub(r" in \d+\.\d+s", " in N.NNs", text)
    text = re.sub(r" · \d+\.\ds\n", " · N.Ns\n", text)
    text = re.sub(r'"(created|elapsed_s|harness_version)": [^,\n]+', r'"\1": X', text)
    text = re.sub(r'timestamp="[^"]+"', 'timestamp="X"', text)
    text = re.sub(r'<p class="sub">[^<]*· harness [^<]*</p>', '<p class="sub">X</p>', text)
    return text


def run_shipped(run: object) -> dict[str, str]:
    """Run the shipped suites with every report; ``run(*args) -> (code, stdout)``."""
    args = ["run", "suites", *(f"--report={fmt}=out/run.{fmt}" for fmt in REPORTS)]
    code, out = run(*args)  # type: ignore[operator]
    texts = {"exit": str(code), "terminal": normalise(out)}
    for fmt in REPORTS:
        texts[fmt] = normalise(Path(f"out/run.{fmt}").read_text(encoding="utf-8"))
    return texts


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_single_sample_suites_print_and_report_as_before(project: Project) -> None:
    for folder in ("suites", "cassettes"):
        shutil.rmtree(project.root / folder)
        shutil.copytree(ROOT / folder, project.root / folder)

    def run(*args: str) -> tuple[int, str]:
        result = project.run(*args)
        return result.code, result.out

    got = run_shipped(run)
    pinned = json.loads((PINNED / "shipped.json").read_text(encoding="utf-8"))
    assert got["exit"] == pinned["exit"]
    assert got["terminal"] == (PINNED / "terminal.txt").read_text(encoding="utf-8")
    assert got["markdown"] == (PINNED / "run.md").read_text(encoding="utf-8")
    for fmt in ("json", "junit", "html"):
        assert digest(got[fmt]) == pinned[fmt], f"the {fmt} report of single-sample suites changed"


def _regenerate() -> None:
    """Write the pinned files from the code on PYTHONPATH (only when a change of output is meant)."""
    import os
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for folder in ("suites", "cassettes"):
            shutil.copytree(ROOT / folder, Path(tmp) / folder)
        (Path(tmp) / "pyproject.toml").write_text("[project]\nname = 'demo'\n")

        def run_cli(*args: str) -> tuple[int, str]:
            done = subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=tmp, capture_output=True,
                                  text=True, env={**os.environ, "COLUMNS": "200"}, check=False)
            return done.returncode, done.stdout

        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            got = run_shipped(run_cli)
        finally:
            os.chdir(cwd)
    PINNED.mkdir(parents=True, exist_ok=True)
    (PINNED / "terminal.txt").write_text(got["terminal"], encoding="utf-8")
    (PINNED / "run.md").write_text(got["markdown"], encoding="utf-8")
    (PINNED / "shipped.json").write_text(json.dumps(
        {"exit": got["exit"], **{fmt: digest(got[fmt]) for fmt in ("json", "junit", "html")}}, indent=2) + "\n")


if __name__ == "__main__":
    _regenerate()
