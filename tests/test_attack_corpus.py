"""A corpus of hostile suites and cassettes, each run as a user would: `harness validate` and
`harness run` in a child process with a memory cap and a time limit.

Whatever the attack, the same rules hold:
- exit 1 (a per-case error; the run goes on and its report is written) or 2 (a refused suite, with
  one line naming the file), never a Python traceback, never a hang, never gigabytes of memory;
- nothing outside the project is read into any output or file, nothing outside it is written;
- no secret from the environment appears in any output or file.
The focused tests (test_sandbox.py, test_robustness.py, test_secrets.py) check each message; this
file checks the rules over all of them at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.testing.fake_openai import FakeOpenAI, Rule

from test_secrets import leaks  # sees through JSON escapes, URL-encoding and HTML entities

SECRET = "sk-corpus-5b1d0c9e7a3f42d8b6e1"
QUERY_SECRET = "qsecret-corpus-93c1d7e02b4a"
OUTSIDE_TEXT = "OUTSIDE-CANARY-2f9c1e"
MEMORY_CAP = 1_500_000_000  # bytes of address space for the child: a bomb must be refused, not built
TIME_LIMIT = 60.0
GOOD_CASSETTE_SUITE = "model: gpt-4o\ncases:\n  - id: a\n    prompt: hello\n"


@dataclass
class Attack:
    name: str
    files: dict[str, str | bytes]
    setup: Callable[[Path, Path], None] | None = None  # (project root, outside folder)
    expect: tuple[int, ...] = (2,)
    commands: tuple[str, ...] = ("validate", "run")
    extra: dict[str, str] = field(default_factory=dict)
    #: Record against the loopback server with these rules (``run`` only; ``{query}`` in a suite
    #: or in ``base_url_query`` becomes a key-carrying query string).
    rules: tuple[Rule, ...] | None = None
    base_url_query: str = ""


def _symlink(link: str, target: str) -> Callable[[Path, Path], None]:
    def make(root: Path, outside: Path) -> None:
        path = root / link
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target.replace("{outside}", str(outside)), path)
    return make


def _fifo(name: str) -> Callable[[Path, Path], None]:
    def make(root: Path, outside: Path) -> None:
        os.mkfifo(root / name)
    return make


def _suite(text: str) -> dict[str, str | bytes]:
    return {"suites/s.yaml": textwrap.dedent(text).lstrip()}


def _cassette(body: str | bytes) -> dict[str, str | bytes]:
    return {"suites/s.yaml": GOOD_CASSETTE_SUITE, "cassettes/s/a.yaml": body}


ONE = "model: gpt-4o\ncases:\n  - id: a\n"

ATTACKS = [
    # paths: nothing outside the project is read
    Attack("include-symlink-out", {"suites/s.yaml": ONE + "    prompt: \"{% include 'inc.j2' %}\"\n"},
           _symlink("suites/inc.j2", "{outside}/secret.txt")),
    Attack("include-dotdot", {"suites/s.yaml": ONE + "    prompt: \"{% include '../../outside/secret.txt' %}\"\n"}),
    Attack("message-file-symlink-out", {"suites/s.yaml": ONE + "    messages:\n      - role: user\n        file: m.j2\n"},
           _symlink("suites/m.j2", "{outside}/secret.txt")),
    Attack("image-file-symlink-out", {"suites/s.yaml": ONE + "    messages:\n      - role: user\n        content:\n"
                                                         "          - type: image_url\n"
                                                         "            image_url: {file: pic.png}\n"},
           _symlink("suites/pic.png", "{outside}/secret.txt")),
    Attack("schema-file-dotdot", {"suites/s.yaml": ONE + "    prompt: hi\n    checks:\n"
                                                      "      - json-schema: {file: ../../outside/secret.txt}\n"}),
    Attack("schema-file-absolute", {"suites/s.yaml": ONE + "    prompt: hi\n    checks:\n"
                                                        "      - json-schema: {file: /etc/passwd}\n"}),
    Attack("schema-file-symlink-out", {"suites/s.yaml": ONE + "    prompt: hi\n    checks:\n"
                                                           "      - json-schema: {file: schema.json}\n"},
           _symlink("suites/schema.json", "{outside}/secret.txt")),
    Attack("schema-file-fifo", {"suites/s.yaml": ONE + "    prompt: hi\n    checks:\n"
                                                    "      - json-schema: {file: pipe.json}\n"},
           _fifo("suites/pipe.json")),
    Attack("include-fifo", {"suites/s.yaml": ONE + "    prompt: \"{% include 'pipe.j2' %}\"\n"}, _fifo("suites/pipe.j2")),
    Attack("include-device", {"suites/s.yaml": ONE + "    prompt: \"{% include 'zero.j2' %}\"\n"},
           _symlink("suites/zero.j2", "/dev/zero")),
    # paths: nothing outside the project is written
    Attack("cassette-dir-absolute", {"suites/s.yaml": "cassette_dir: {outside}/cassettes\n" + ONE + "    prompt: hi\n"}),
    Attack("cassette-dir-dotdot", {"suites/s.yaml": "cassette_dir: ../../outside\n" + ONE + "    prompt: hi\n"}),
    Attack("suite-file-dots", {"suites/....yaml": ONE + "    prompt: hi\n"}, expect=(2, 3)),
    # templates are bounded
    Attack("nested-range", _suite("""
        model: gpt-4o
        cases:
          - id: a
            prompt: "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}x"
        """)),
    Attack("big-power", _suite(ONE + "    prompt: \"{{ 10 ** (10 ** 10) }}\"\n")),
    Attack("format-width", _suite(ONE + "    prompt: \"{{ '{:>2000000000}'.format('') }}\"\n")),
    Attack("center-width", _suite(ONE + "    prompt: \"{{ ''|center(2000000000) }}\"\n")),
    Attack("percent-width", _suite(ONE + "    prompt: \"{{ '%2000000000s' % 'a' }}\"\n")),
    Attack("string-repeat", _suite(ONE + "    prompt: \"{{ 'x' * 2000000000 }}\"\n")),
    Attack("namespace-doubling", _suite("""
        model: gpt-4o
        cases:
          - id: a
            prompt: "{% set ns = namespace(x='ab') %}{% for i in range(40) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}{{ ns.x|length }}"
        """)),
    Attack("lipsum-address", _suite(ONE + "    prompt: \"{{ lipsum }}\"\n")),
    Attack("range-address", _suite(ONE + "    prompt: \"{{ range }}\"\n")),
    # bad values
    Attack("nan-temperature", _suite(ONE + "    prompt: hi\n    temperature: .nan\n")),
    Attack("huge-max-tokens", _suite(ONE + "    prompt: hi\n    max_tokens: " + "9" * 5000 + "\n")),
    Attack("matrix-explosion", _suite("model: gpt-4o\nmatrix:\n" + "".join(
        f"  v{i}: [{', '.join(str(n) for n in range(10))}]\n" for i in range(10))
        + "cases:\n  - id: a\n    prompt: hi\n")),
    # broken cassettes: one case's error, the run goes on (validate does not read cassettes)
    Attack("cassette-is-a-folder", {"suites/s.yaml": GOOD_CASSETTE_SUITE, "cassettes/s/a.yaml/x": "x"},
           expect=(1,), commands=("run",)),
    Attack("cassette-folder-is-a-file", {"suites/s.yaml": GOOD_CASSETTE_SUITE, "cassettes/s": "not a folder"},
           expect=(1, 3), commands=("run",)),
    Attack("cassette-invalid-utf8", _cassette(b"interactions:\n- \xff\xfe\xfa\n"), expect=(1,), commands=("run",)),
    Attack("cassette-dev-zero", {"suites/s.yaml": GOOD_CASSETTE_SUITE}, _symlink("cassettes/s/a.yaml", "/dev/zero"),
           expect=(1,), commands=("run",)),
    Attack("cassette-symlink-out", {"suites/s.yaml": GOOD_CASSETTE_SUITE},
           _symlink("cassettes/s/a.yaml", "{outside}/secret.txt"), expect=(1,), commands=("run",)),
]


RECORD = ("run",)
STREAMED = "model: gpt-4o\ncases:\n  - id: a\n    stream: true\n"

ATTACKS += [
    # recording: a leaky server, a broken answer, names too long for the file system
    Attack("record-key-echoed-in-401", _suite(ONE + "    prompt: echo-401\n"),
           rules=(Rule(contains="echo-401", status=401, echo_key="partial"),), expect=(1,), commands=RECORD),
    Attack("record-key-echoed-in-stream", _suite(STREAMED + "    prompt: echo-sse\n"),
           rules=(Rule(contains="echo-sse", content="your key is {api_key}", echo_key="escaped"),),
           expect=(0,), commands=RECORD),
    Attack("record-key-in-base-url-query", _suite(ONE + "    prompt: hi\n"), rules=(),
           base_url_query=f"?api-key={QUERY_SECRET}", expect=(0,), commands=RECORD),
    Attack("record-stream-cut-short", _suite(STREAMED + "    prompt: cut\n"),
           rules=(Rule(contains="cut", defect="cut_stream"),), expect=(1,), commands=RECORD),
    Attack("record-no-choices", _suite(ONE + "    prompt: empty\n"),
           rules=(Rule(contains="empty", defect="no_choices"),), expect=(1,), commands=RECORD),
    Attack("record-lock-file-symlink-out", _suite(ONE + "    prompt: hi\n"),
           _symlink("cassettes/s/.harness-lock-" + hashlib.sha1(b"a.yaml").hexdigest()[:16], "{outside}/lock"),
           rules=(), expect=(1,), commands=RECORD),
    Attack("record-state-folder-symlink-out", _suite(ONE + "    prompt: hi\n"), _symlink(".harness", "{outside}"),
           rules=(), expect=(0,), commands=("run", "run")),  # the second run replays: a cache to write
    Attack("record-cassette-folder-symlink-out", _suite(ONE + "    prompt: hi\n"), _symlink("cassettes/s", "{outside}"),
           rules=(), expect=(2,), commands=RECORD),
    Attack("record-long-names", _suite("name: " + "n" * 300 + "\n" + ONE.replace("id: a", "id: " + "i" * 80)
                                       + "    prompt: hi\n    matrix: {"
                                       + ", ".join(f"v{n}: [{chr(97 + n) * 50}]" for n in range(6)) + "}\n"),
           rules=(), expect=(0,), commands=RECORD),
]


def _write(root: Path, files: dict[str, str | bytes], outside: Path) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content.replace("{outside}", str(outside)))


def _limit_memory() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _snapshot(folder: Path) -> dict[str, float]:
    return {str(p): p.lstat().st_mtime for p in folder.rglob("*")}


def _every_file_text(root: Path) -> str:
    texts = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(texts)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack_is_refused_cleanly(attack: Attack, tmp_path: Path) -> None:
    root, outside = tmp_path / "proj", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text(f"{OUTSIDE_TEXT}\n{{\"type\": \"object\"}}\n")
    (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    _write(root, attack.files, outside)
    if attack.setup:
        attack.setup(root, outside)
    before = _snapshot(outside)
    env = {k: v for k, v in os.environ.items() if "KEY" not in k and k != "CI"}
    env.update({"OPENAI_API_KEY": SECRET, "NO_COLOR": "1", "COLUMNS": "200", **attack.extra})
    server = FakeOpenAI(rules=attack.rules) if attack.rules is not None else None
    if server is not None:
        server.start()
    try:
        _attack(attack, root, env, server)
    finally:
        if server is not None:
            server.stop()
    assert _snapshot(outside) == before, "a file outside the project was written"
    assert leaks({"every file of the project": _every_file_text(root)}, [OUTSIDE_TEXT, SECRET, QUERY_SECRET]) == []
    for path in root.rglob("*"):
        assert len(path.name.encode()) <= 255


def _attack(attack: Attack, root: Path, env: dict[str, str], server: FakeOpenAI | None) -> None:
    for command in attack.commands:
        args = [sys.executable, "-m", "harness.cli", command, "suites"]
        if command == "run":
            args += ["--report", "json=report.json", "--report", "html=report.html",
                     "--report", "junit=report.xml", "--report", "markdown=report.md"]
        if server is not None:
            args += ["--record-mode", "once", "--base-url", server.base_url + attack.base_url_query]
        try:
            done = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True,
                                  timeout=TIME_LIMIT, preexec_fn=_limit_memory, check=False)
        except subprocess.TimeoutExpired:
            pytest.fail(f"harness {command} did not finish within {TIME_LIMIT:.0f} s")
        output = done.stdout + done.stderr
        assert "Traceback" not in output, output
        assert done.returncode in attack.expect, f"harness {command}: exit {done.returncode}\n{output}"
        assert leaks({f"{command} output": output}, [OUTSIDE_TEXT, SECRET, QUERY_SECRET]) == [], output
        if done.returncode == 2:
            errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
            assert errors and all("s.yaml" in line or "suites" in line or "cassettes" in line
                                  for line in errors), done.stderr
        if command == "run" and done.returncode != 2:
            counts = json.loads((root / "report.json").read_text())["summary"]["counts"]
            if done.returncode == 0:
                assert counts["passed"] >= 1 and counts["error"] == 0
            else:
                assert counts["error"] + counts.get("missing", 0) >= 1
                if server is not None:  # a broken or refused answer is never recorded
                    assert not list((root / "cassettes").rglob("*.yaml"))
