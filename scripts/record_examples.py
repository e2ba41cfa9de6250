"""Re-record the example suites' cassettes against the loopback fake server.

The shipped cassettes under cassettes/ were made by this script: it starts
harness.testing.fake_openai on 127.0.0.1 with the scripted answers in example_answers.yaml and runs
``harness run suites/ --record-mode all`` against it (Chat Completions, the Responses API and Azure
paths; the agent loop's tool runs from suites/weather_tools.py as it does in replay), with throwaway
keys, then the README's Python API example suite (examples/) through ``harness.run``. Cassettes whose
exchanges did not change are left untouched, so a re-run only adds what is new.
To record the same suites against a real API instead, run ``harness run suites/ --record-mode all``
with OPENAI_API_KEY (and AZURE_OPENAI_* for the Azure suite) set.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from harness.testing.fake_answers import Rule
from harness.testing.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CHECK = """import harness

@harness.check("word_count_between")
def word_count_between(output: harness.Output, *, min: int, max: int) -> bool:
    return min <= len((output.content or "").split()) <= max

"""


def main() -> int:
    rules = [Rule.from_mapping(r) for r in yaml.safe_load((ROOT / "scripts" / "example_answers.yaml").read_text())]
    with FakeOpenAI(rules=rules) as server:
        env = dict(os.environ, OPENAI_API_KEY="fake-recording-key", OPENAI_BASE_URL=server.base_url,
                   AZURE_OPENAI_API_KEY="fake-recording-key", AZURE_OPENAI_ENDPOINT=server.azure_endpoint)
        # local_gemma.yaml is recorded against the real local model (scripts/local_model.py).
        suites = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "suites").glob("*.yaml"))
                  if p.name != "local_gemma.yaml"]
        done = subprocess.run([sys.executable, "-m", "harness.cli", "run", *suites, "--record-mode", "all"],
                              cwd=ROOT, env=env, check=False)
        # The README's Python API example: its suite needs the check the example defines.
        api = subprocess.run([sys.executable, "-c", EXAMPLE_CHECK + "harness.run('examples', record_mode='all')"],
                             cwd=ROOT, env=env, check=False)
    return done.returncode or api.returncode


if __name__ == "__main__":
    sys.exit(main())
