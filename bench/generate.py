"""Generate a benchmark project: one suite of N cases (3 checks each) and its N cassettes.

With ``--rows`` the same cases come from a JSON Lines file (``cases_from``): the way one suite holds
more than the 10,000 cases a suite file may write out (the 50,000-case scale benchmark).

The cassettes are written by harness's own cassette writer from the answers the loopback fake
server would give, so they are byte-for-byte what ``--record-mode once`` against it produces,
without spending the benchmark's time on recording.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from harness import cassettes
from harness.cassettes import Interaction
from harness.render import Renderer
from harness.request import build_request
from harness.runner import rerecord_command
from harness.suite import load_suite
from harness.testing.fake_openai import FakeOpenAI

SUITE_HEAD = """\
name: bench{n}
model: gpt-4o
temperature: 0
max_tokens: 64
checks:
  - contains: "Echo:"
  - regex: "question \\\\d+"
  - length: {{chars: {{max: 400}}}}
cases:
"""

ROWS_SUITE = """\
name: bench{n}
model: gpt-4o
temperature: 0
max_tokens: 64
prompt: "Answer question {{{{ i }}}} about topic {{{{ topic }}}}."
checks:
  - contains: "Echo:"
  - regex: "question \\\\d+"
  - length: {{chars: {{max: 400}}}}
cases_from: ../data/cases.jsonl
"""


def write_suite(root: Path, n: int, rows: bool = False) -> Path:
    (root / "suites").mkdir(parents=True, exist_ok=True)
    (root / "cassettes").mkdir(exist_ok=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'bench'\n")
    path = root / "suites" / f"bench{n}.yaml"
    if rows:
        (root / "data").mkdir(exist_ok=True)
        with (root / "data" / "cases.jsonl").open("w") as fh:
            fh.writelines(json.dumps({"id": f"c{i:05d}", "i": i, "topic": i % 97}) + "\n" for i in range(n))
        path.write_text(ROWS_SUITE.format(n=n))
        return path
    lines = [SUITE_HEAD.format(n=n)]
    lines += [f"  - id: c{i:05d}\n    prompt: \"Answer question {i} about topic {i % 97}.\"\n" for i in range(n)]
    path.write_text("".join(lines))
    return path


def write_cassettes(suite_path: Path, base_url: str = "http://127.0.0.1:8080/v1") -> int:
    fake = FakeOpenAI()
    suite = load_suite(suite_path)
    renderer = Renderer(suite_path)
    for case in suite.cases:
        request = build_request(case, renderer, base_url_override=base_url)
        _answer, completion = fake.complete(request.body, request.body["model"])
        interaction = Interaction(
            method="POST", uri=base_url + request.path, path=request.path, query={}, body=request.body,
            status=200, response_headers={"content-type": "application/json"},
            response_text=json.dumps(completion), latency_ms=200.0)
        cassettes.save(case.cassette_path, case.node_id, [interaction], rerecord=rerecord_command([case], "all"))
    return len(suite.cases)


def main(argv: list[str]) -> int:
    """``generate.py ROOT N [--no-cassettes] [--rows]``: the suite, and its cassettes unless told not
    to (the live-recording benchmark starts from a suite with no cassettes at all)."""
    root, n = Path(argv[1]), int(argv[2])
    path = write_suite(root, n, rows="--rows" in argv[3:])
    if "--no-cassettes" in argv[3:]:
        print(f"{path}: {n} cases, no cassettes")
        return 0
    count = write_cassettes(path)
    print(f"{path}: {count} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
