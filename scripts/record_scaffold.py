"""Record the cassette `harness init` ships with its example suite, against the loopback fake server.

The example suite must replay offline the moment `harness init` has written it, so its cassette is
package data (harness/scaffold/example_capital.yaml). It is recorded, never written by hand: this
script writes a fresh project with the scaffold, records the example with harness itself against
harness.testing.fake_openai on 127.0.0.1 (the answer is scripted in RULES; it shows the format, it
is not a model's output), and copies the cassette into the package. tests/test_init.py records it
the same way and fails when the shipped file no longer matches what this version records.

    python scripts/record_scaffold.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.scaffold import write_project
from harness.testing.fake_answers import Rule
from harness.testing.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "harness" / "scaffold" / "example_capital.yaml"
CASSETTE = "cassettes/example/capital.yaml"
RULES = [Rule(contains="capital of France", content="The capital of France is Paris.")]


def record(folder: Path) -> Path:
    """A fresh scaffold in ``folder`` with its example recorded anew; the cassette's path."""
    write_project(folder)
    (folder / CASSETTE).unlink()
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_STEP_SUMMARY", "OPENAI_BASE_URL")}
    with FakeOpenAI(rules=RULES) as server:
        done = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--record-mode", "once",
                               "--base-url", server.base_url], cwd=folder, capture_output=True, text=True,
                              env={**env, "OPENAI_API_KEY": "fake-recording-key", "NO_COLOR": "1"}, check=False)
    if done.returncode != 0 or not (folder / CASSETTE).is_file():
        raise RuntimeError(f"recording the scaffold failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return folder / CASSETTE


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(record(Path(tmp) / "project"), SHIPPED)
    print(f"wrote {SHIPPED.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
