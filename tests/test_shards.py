"""A run split over CI machines (harness run --shard K/N) and joined again (harness merge): every case
in exactly one shard, the merge's reports and exit status those of one unsharded run, and a merge
that cannot be proved whole refused (exit 2, naming the file)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.collect import collect, select_cases
from harness.errors import EXIT_FAILED, EXIT_OK, EXIT_USER_ERROR
from harness.shard import Shard, shard_of
from harness.suite import Case
from harness.testing.fake_openai import FakeOpenAI

from conftest import Project, network_blocked

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ("json", "junit", "markdown", "html")

CHAT = """
name: chat
model: gpt-4o
cases:
  - id: greet
    prompt: Say good morning.
    checks: [{contains: good}]
  - id: topics
    prompt: "Explain {{ topic }}, good and short."
    matrix:
      topic: [consistency, availability, partitions]
    checks: [{contains: good}]
  - id: sampled
    prompt: Pick a good number.
    samples: 3
    checks: [{contains: good}]
  - id: models
    prompt: Name a good colour.
    models: [gpt-4o, gpt-4o-mini]
    checks: [{contains: good}]
  - id: turns
    prompt: Start a good story.
    turns: ["Go on, keep it good."]
    checks: [{contains: good}]
"""


def bench(failing: set[str], n: int = 16, gate: float = 0.75) -> str:
    """A benchmark suite of ``n`` cases with a min_pass_rate gate; the ``failing`` ids answer 'bad'."""
    cases = "".join(f"  - id: q{i}\n    prompt: Answer {'bad' if f'q{i}' in failing else 'good'} {i}.\n"
                    for i in range(n))
    return f"name: bench\nmodel: gpt-4o\nmin_pass_rate: {gate}\nchecks: [{{contains: good}}]\ncases:\n{cases}"


def recorded(project: Project, fake: FakeOpenAI, bench_text: str) -> None:
    project.suite("chat.yaml", CHAT)
    project.suite("bench.yaml", bench_text)
    result = project.record(fake, "suites")
    assert result.code in (EXIT_OK, EXIT_FAILED), result.text
    fake.stop()  # everything below replays with nothing listening


def reports(tag: str) -> list[str]:
    ext = {"json": "json", "junit": "xml", "markdown": "md", "html": "html"}
    return [a for f in FORMATS for a in ("--report", f"{f}=out/{tag}.{ext[f]}")]


def without_timings(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("created", "elapsed_s", "shard")}


def summary(text: str) -> str:
    """The summary line, without its time."""
    line = next(line for line in text.splitlines() if re.search(r"\d+ passed", line))
    return re.sub(r" in \d+\.\d+s", "", line)


def terminal(text: str) -> str:
    """What a run prints, but its time and the report files it names."""
    return "\n".join(re.sub(r" in \d+\.\d+s", "", line) for line in text.splitlines()
                     if not line.startswith("report written:"))


def sharded(project: Project, count: int = 4, *extra: str) -> list[int]:
    codes = []
    for k in range(1, count + 1):
        result = project.run("run", "suites", "--shard", f"{k}/{count}", "--report", f"json=out/shard-{k}.json",
                             *extra)
        codes.append(result.code)
    return codes


def cases_of(root: Path) -> list[Case]:
    suites, selected = collect([str(root / "suites")])
    return select_cases(suites, selected, None)


# ------------------------------------------------------------------ the split


def test_every_shipped_case_is_in_exactly_one_shard_with_its_variants_and_samples(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    cases = cases_of(ROOT)
    whole = [c.node_id + f"#{c.sample}" for c in cases]
    for count in (1, 2, 4, 7):
        parts = [[c.node_id + f"#{c.sample}" for c in cases if Shard(k, count).owns(c)]
                 for k in range(1, count + 1)]
        assert sorted(x for part in parts for x in part) == sorted(whole)  # the union, each once
        assert len(set(whole)) == len(whole)
    by_base: dict[tuple[Path, str], set[int]] = {}
    for c in cases:
        by_base.setdefault((c.suite_path, c.base_id), set()).add(shard_of(c, 4))
    assert all(len(shards) == 1 for shards in by_base.values())  # variants and samples stay together
    assert any(len([c for c in cases if (c.suite_path, c.base_id) == key]) > 1 for key in by_base)
    sizes = [sum(shard_of(c, 4) == k for c in cases) for k in range(1, 5)]
    assert min(sizes) > len(cases) / 8  # a split, not everything on one machine


def test_adding_a_case_moves_no_other_case(project: Project) -> None:
    project.suite("bench.yaml", bench(set(), n=40))
    before = {c.id: shard_of(c, 4) for c in cases_of(project.root)}
    project.suite("bench.yaml", bench(set(), n=60).replace("  - id: q3\n    prompt: Answer good 3.\n", ""))
    after = {c.id: shard_of(c, 4) for c in cases_of(project.root)}
    assert "q3" not in after and len(after) == 59
    assert all(after[k] == v for k, v in before.items() if k in after)


@pytest.mark.parametrize("bad", ["0/4", "5/4", "4", "a/b", "1/0", "-1/3"])
def test_a_bad_shard_is_a_user_error(project: Project, bad: str) -> None:
    project.suite("bench.yaml", bench(set()))
    result = project.run("run", "suites", f"--shard={bad}")
    assert result.code == EXIT_USER_ERROR, result.text
    assert f"--shard {bad!r}" in result.err and "Traceback" not in result.text


# ------------------------------------------------------------------ shards + merge == one run


def test_four_shards_merged_are_the_unsharded_run(project: Project, fake: FakeOpenAI) -> None:
    recorded(project, fake, bench({"q1", "q5"}))
    with network_blocked() as attempts:
        whole = project.run("run", "suites", *reports("whole"))
        codes = sharded(project)
        merged = project.run("merge", *[f"out/shard-{k}.json" for k in range(1, 5)], *reports("merged"))
    assert not attempts
    assert whole.code == EXIT_OK and merged.code == EXIT_OK, merged.text
    assert codes == [EXIT_OK] * 4
    out = project.root / "out"
    a, b = (json.loads((out / f"{t}.json").read_text()) for t in ("whole", "merged"))
    assert "shard" not in a and "shard" not in b
    assert without_timings(a) == without_timings(b)
    assert a["summary"]["cases"] == 26 and a["summary"]["counts"]["failed"] == 2
    parts = [json.loads((out / f"shard-{k}.json").read_text()) for k in range(1, 5)]
    assert sorted(c["name"] for p in parts for c in p["cases"]) == sorted(c["name"] for c in a["cases"])
    assert all(p["shard"]["count"] == 4 for p in parts) and sorted(p["shard"]["index"] for p in parts) == [1, 2, 3, 4]
    assert terminal(whole.out) == terminal(merged.out)  # tables, failures, gates and summary alike
    with network_blocked():
        for flag in ("-v", "-q"):
            shown = project.run("run", "suites", flag), project.run("merge", flag, *[f"out/shard-{k}.json" for k in range(1, 5)])
            assert terminal(shown[0].out) == terminal(shown[1].out), flag
    assert "2 failed (2 tolerated)" in summary(merged.out)
    for ext in ("xml", "md", "html"):  # every format written from the merged run
        assert (out / f"merged.{ext}").stat().st_size > 0
    junit = [re.sub(r'(time|timestamp)="[^"]*"', "", (out / f"{t}.xml").read_text()) for t in ("whole", "merged")]
    assert junit[0] == junit[1]


def test_a_case_failing_in_shard_3_fails_shard_3_and_the_merge(project: Project, fake: FakeOpenAI) -> None:
    recorded(project, fake, bench(set()))
    third = next(c for c in cases_of(project.root) if c.suite_name == "chat" and shard_of(c, 4) == 3)
    suite = project.root / "suites" / "chat.yaml"
    text = suite.read_text()
    start = text.index(f"- id: {third.base_id}\n")
    end = text.index("checks: [{contains: good}]", start)
    suite.write_text(text[:end] + "checks: [{contains: never-said}]" + text[end + len("checks: [{contains: good}]"):])
    with network_blocked():
        whole = project.run("run", "suites", "--report", "json=out/whole.json")
        codes = sharded(project)
        merged = project.run("merge", *[f"out/shard-{k}.json" for k in range(1, 5)], "--report", "json=out/m.json")
    assert whole.code == EXIT_FAILED and merged.code == EXIT_FAILED, merged.text
    assert codes[2] == EXIT_FAILED and codes[0] == codes[1] == codes[3] == EXIT_OK
    assert f"suites/chat.yaml::{third.name}" in merged.out and "never-said" in merged.out
    assert terminal(whole.out) == terminal(merged.out)
    a, b = (json.loads((project.root / "out" / n).read_text()) for n in ("whole.json", "m.json"))
    assert without_timings(a) == without_timings(b)


def test_a_min_pass_rate_gate_only_the_whole_suite_decides(project: Project, fake: FakeOpenAI) -> None:
    ids = [f"q{i}" for i in range(16)]
    probe = project.suite("bench.yaml", bench(set()))
    owner = {c.id: shard_of(c, 4) for c in cases_of(project.root)}
    probe.unlink()
    # 5 failures of 16 (68.75%) below the gate of 75%, all in as few shards as possible
    failing = set(sorted(ids, key=lambda i: owner[i])[:5])
    recorded(project, fake, bench(failing))
    with network_blocked():
        whole = project.run("run", "suites", "--report", "json=out/whole.json")
        codes = sharded(project)
        merged = project.run("merge", *[f"out/shard-{k}.json" for k in range(1, 5)], "--report", "json=out/m.json")
    assert whole.code == EXIT_FAILED and merged.code == EXIT_FAILED, merged.text
    assert codes == [EXIT_OK] * 4  # no shard can decide a suite's gate: each says merge does
    shard_doc = json.loads((project.root / "out" / "shard-1.json").read_text())
    gate = next(g for g in shard_doc["summary"]["gates"] if g["name"] == "bench: min_pass_rate")
    assert gate["met"] and "decided by harness merge" in gate["text"]
    text = "gate failed: bench: pass rate 68.75% (11/16) is below min_pass_rate 75.00%"
    assert text in whole.out and text in merged.out
    a, b = (json.loads((project.root / "out" / n).read_text()) for n in ("whole.json", "m.json"))
    assert without_timings(a) == without_timings(b)
    # the same suite with the gate met: failures tolerated over the whole, though one shard alone is below it
    (project.root / "suites" / "bench.yaml").write_text(bench(failing, gate=0.6))
    with network_blocked():
        codes = sharded(project)
        merged = project.run("merge", *[f"out/shard-{k}.json" for k in range(1, 5)])
    assert codes == [EXIT_OK] * 4 and merged.code == EXIT_OK, merged.text
    assert "bench: 5 failed, tolerated: pass rate 68.8% ≥ min_pass_rate 60%" in merged.out


def test_shards_with_no_case_still_report_and_merge(project: Project, fake: FakeOpenAI) -> None:
    project.suite("one.yaml", "name: one\nmodel: gpt-4o\ncases:\n  - id: only\n    prompt: Be good.\n"
                  "    checks: [{contains: good}]\n")
    assert project.record(fake, "suites").code == EXIT_OK
    fake.stop()
    with network_blocked():
        whole = project.run("run", "suites", "--report", "json=out/whole.json")
        assert sharded(project) == [EXIT_OK] * 4  # three shards hold nothing, and say so in their reports
        merged = project.run("merge", *[f"out/shard-{k}.json" for k in range(1, 5)], "--report", "json=out/m.json")
    assert merged.code == whole.code == EXIT_OK, merged.text
    sizes = sorted(len(json.loads((project.root / "out" / f"shard-{k}.json").read_text())["cases"]) for k in range(1, 5))
    assert sizes == [0, 0, 0, 1]
    a, b = (json.loads((project.root / "out" / n).read_text()) for n in ("whole.json", "m.json"))
    assert without_timings(a) == without_timings(b)


# ------------------------------------------------------------------ refusals


def test_merge_refuses_what_is_not_one_whole_run(project: Project, fake: FakeOpenAI) -> None:
    recorded(project, fake, bench(set()))
    with network_blocked():
        assert sharded(project) == [EXIT_OK] * 4
        assert sharded(project, 3) == [EXIT_OK] * 3  # shard-1..3.json now of 3 shards
        sharded(project)
        project.run("run", "suites", "--report", "json=out/whole.json")
    shards = [f"out/shard-{k}.json" for k in range(1, 5)]

    def refused(*paths: str) -> str:
        result = project.run("merge", *paths)
        assert result.code == EXIT_USER_ERROR, result.text
        assert "Traceback" not in result.text
        return " ".join(result.err.split())

    assert "missing shard(s) 3/4" in refused(*shards[:2], shards[3])
    assert "out/shard-2.json" in refused(*shards, shards[1]) and "given twice" in refused(*shards, shards[1])
    assert "out/whole.json" in refused(*shards[:3], "out/whole.json")
    (project.root / "out" / "junk.json").write_text("<html>not json</html>")
    assert "out/junk.json" in refused(*shards, "out/junk.json")
    assert "no such report file" in refused(*shards[:3], "out/nowhere.json")
    other = json.loads((project.root / "out" / "shard-4.json").read_text())
    other["shard"]["count"] = 5
    (project.root / "out" / "five.json").write_text(json.dumps(other))
    assert "out/five.json" in refused(*shards[:3], "out/five.json")
    other = json.loads((project.root / "out" / "shard-4.json").read_text())
    other["harness_version"] = "0.0.1"
    (project.root / "out" / "old.json").write_text(json.dumps(other))
    assert "harness 0.0.1" in refused(*shards[:3], "out/old.json")
    with network_blocked():
        project.run("run", "suites", "-k", "q1", "--shard", "4/4", "--report", "json=out/picked.json")
    message = refused(*shards[:3], "out/picked.json")
    assert "out/picked.json" in message and "selected other cases" in message
    # a suite changed between the machines' runs
    suite = project.root / "suites" / "chat.yaml"
    suite.write_text(suite.read_text() + "  - id: extra\n    prompt: One more good one.\n    skip: not recorded\n")
    with network_blocked():
        project.run("run", "suites", "--shard", "4/4", "--report", "json=out/changed.json")
    message = refused(*shards[:3], "out/changed.json")
    assert "out/changed.json" in message and "suites/chat.yaml" in message


# ------------------------------------------------------------------ the pytest door


def test_pytest_selects_the_same_cases_as_harness_run(project: Project, fake: FakeOpenAI) -> None:
    recorded(project, fake, bench(set()))
    (project.root / "pyproject.toml").write_text("[project]\nname = 'demo'\n[tool.pytest.ini_options]\n"
                                                 "harness_suites = ['suites']\n")
    for k in (1, 3):
        with network_blocked():
            project.run("run", "suites", "--shard", f"{k}/4", "--report", f"json=out/shard-{k}.json")
        ran = {c["node_id"].replace("::", "::", 1) + ("" if not c["sample"] else f"#{c['sample']}")
               for c in json.loads((project.root / "out" / f"shard-{k}.json").read_text())["cases"]}
        collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                                    "suites", "--harness-shard", f"{k}/4"], cwd=project.root,
                                   capture_output=True, text=True, check=False)
        items = {line for line in collected.stdout.splitlines() if "::" in line}
        assert items == ran, collected.stdout + collected.stderr


# ------------------------------------------------------------------ the documented workflow


def test_the_documented_sharded_workflow_is_valid_and_its_commands_parse() -> None:
    import shlex

    import yaml

    from harness.cli import build_parser

    text = (ROOT / "docs" / "github-actions.md").read_text()
    section = text.split("## Sharding across machines", 1)[1]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    workflow = yaml.safe_load(blocks[0])
    assert workflow["jobs"]["shard"]["strategy"]["matrix"]["shard"] == [1, 2, 3, 4]
    assert workflow["jobs"]["merge"]["needs"] == "shard"
    commands = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            script = str(step.get("run", "")).replace("\\\n", " ").replace("${{ matrix.shard }}", "2")
            commands += [shlex.split(line) for line in script.splitlines() if line.strip().startswith("harness ")]
    assert {c[1] for c in commands} == {"run", "merge"}
    for argv in commands:
        build_parser().parse_args(argv[1:])  # exits 2 on an option harness does not have
    assert "--harness-shard 2/4" in blocks[1].replace("${{ matrix.shard }}", "2")


# ------------------------------------------------------------------ recording in shards


def test_each_machine_records_its_share_and_the_merge_judges_regressions(project: Project) -> None:
    from harness.testing.fake_openai import Rule

    from conftest import CANARY

    project.suite("chat.yaml", CHAT)
    project.suite("bench.yaml", bench(set(), n=8, gate=0.9))
    owner = {c.name: shard_of(c, 4) for c in cases_of(project.root)}
    server = FakeOpenAI(require_key=CANARY).start()
    try:
        for k in (1, 2, 3, 4):
            result = project.record(server, "suites", "--shard", f"{k}/4", "--report", f"json=out/rec-{k}.json")
            assert result.code == EXIT_OK, result.text
            names = {p.stem for p in (project.root / "cassettes").rglob("*.yaml")}
            assert names == {n for n, s in owner.items() if s <= k}  # only this machine's share, and the earlier ones
        merged = project.run("merge", *[f"out/rec-{k}.json" for k in range(1, 5)])
        assert merged.code == EXIT_OK and "18 recorded" in summary(merged.out)  # every case, once
        # the model changes its answer to one case: re-recording in shards, the merge finds the regression
        victim = next(n for n in owner if n.startswith("q"))
        server.add_rule(Rule(contains=f"good {victim[1:]}.", content="a bad answer"))
        for k in (1, 2, 3, 4):
            project.record(server, "suites", "--shard", f"{k}/4", "--report", f"json=out/again-{k}.json",
                           "--fail-on", "regressed", mode="all")
    finally:
        server.stop()
    merged = project.run("merge", *[f"out/again-{k}.json" for k in range(1, 5)], "--fail-on", "regressed")
    assert merged.code == EXIT_FAILED, merged.text
    assert f"1 case(s) regressed: suites/bench.yaml::{victim}" in " ".join(merged.out.split())
    with network_blocked():
        replayed = [project.run("run", "suites", "--shard", f"{k}/4", "--report", f"json=out/r-{k}.json").code
                    for k in range(1, 5)]
    assert sorted(replayed) == [EXIT_OK, EXIT_OK, EXIT_OK, EXIT_OK]  # the failing case's suite gate waits for merge
    refused = project.run("merge", *[f"out/r-{k}.json" for k in range(1, 5)], "--fail-on", "regressed")
    assert refused.code == EXIT_USER_ERROR and "needs a baseline" in refused.err
    with network_blocked():
        whole = project.run("run", "suites")
    merged = project.run("merge", *[f"out/r-{k}.json" for k in range(1, 5)])
    assert whole.code == merged.code == EXIT_FAILED  # 7/8 is below the suite's 90%: only the whole says so
    assert "bench: pass rate 87.50% (7/8) is below min_pass_rate 90.00%" in merged.out


def test_a_stopped_shard_makes_the_merge_exit_as_a_stopped_run(project: Project, fake: FakeOpenAI) -> None:
    import threading

    import harness

    recorded(project, fake, bench(set()))
    stop = threading.Event()
    stop.set()  # Ctrl-C before shard 2 started a case: its report lists them as skipped
    with network_blocked():
        codes = sharded(project)
        second = harness.run("suites", shard="2/4", stop=stop, reports=["json=out/shard-2.json"])
    assert second.exit_code == 130 and codes == [EXIT_OK] * 4
    merged = project.run("merge", *[f"out/shard-{k}.json" for k in range(1, 5)])
    assert merged.code == 130, merged.text
    assert "shard(s) 2/4 were stopped" in merged.err
