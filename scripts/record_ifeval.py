"""Record cassettes/ifeval/ from GPT-4's published IFEval responses.

Starts the loopback fake server with a prompt -> response map built from
tests/data/ifeval/gpt4_responses.jsonl and runs ``harness run suites/ifeval --record-mode all``
against it, so each cassette carries exactly the response GPT-4 gave to that prompt.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.testing.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "ifeval" / "gpt4_responses.jsonl"


def main() -> int:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA
    responses = {}
    for line in source.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            responses[item["prompt"]] = item["response"]
    with FakeOpenAI(responses=responses, gzip=False) as server:
        env = dict(os.environ, OPENAI_API_KEY="fake-recording-key")
        done = subprocess.run([sys.executable, "-m", "harness.cli", "run", "suites/ifeval", "-q",
                               "--record-mode", "all", "--base-url", server.base_url,
                               "--concurrency", "8"], cwd=ROOT, env=env, check=False)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
