"""Sharded runs at their edges, as a CI matrix meets them: shards made from other data or templates,
a selection of nothing, sampled and multi-model cases, shards that hold no case, reports of
another version. The merge gives what one unsharded job gives, or refuses with exit 2 naming the
file; it never joins what is not one run."""

from __future__ import annotations

import json

from test_shards import CHAT, sharded, without_timings

from harness.errors import EXIT_NO_CASES, EXIT_OK, EXIT_USER_ERROR
from harness.testing.fake_openai import FakeOpenAI

from conftest import Project, network_blocked

DATA_SUITE = """
name: rows
model: gpt-4o
messages:
  - {role: user, file: ask.j2}
checks: [{contains: good}]
cases_from: {file: ../data/rows.csv, id: key}
"""
ROWS = "key,topic\n" + "".join(f"r{i},good topic {i}\n" for i in range(12))


def chat_recorded(project: Project, fake: FakeOpenAI) -> None:
    """The chat suite, recorded from ``fake``, which is then stopped: what follows replays offline."""
    project.suite("chat.yaml", CHAT)
    assert project.record(fake, "suites").code == EXIT_OK
    fake.stop()


def merge(project: Project, *paths: str) -> tuple[int, str]:
    result = project.run("merge", *paths)
    assert "Traceback" not in result.text
    return result.code, " ".join(result.text.split())


def shards(count: int = 4, prefix: str = "shard") -> list[str]:
    return [f"out/{prefix}-{k}.json" for k in range(1, count + 1)]


def test_shards_made_from_other_data_or_templates_are_not_merged(project: Project, fake: FakeOpenAI) -> None:
    data = project.root / "data" / "rows.csv"
    data.parent.mkdir()
    data.write_text(ROWS)
    template = project.root / "suites" / "ask.j2"
    project.suite("rows.yaml", DATA_SUITE)
    template.write_text("Tell me about {{ topic }}.")
    venv = project.root / "suites" / "venv"  # a virtualenv beside the suites: installed, not made from
    (venv / "lib").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (venv / "lib" / "site.py").write_text("")
    assert project.record(fake, "suites").code == EXIT_OK
    fake.stop()
    with network_blocked():
        assert sharded(project) == [EXIT_OK] * 4
    code, _ = merge(project, *shards())
    assert code == EXIT_OK
    doc = json.loads((project.root / "out" / "shard-1.json").read_text())
    assert {f["path"] for f in doc["shard"]["files"]} >= {"data/rows.csv", "suites/ask.j2", "suites/rows.yaml"}
    assert not any(f["path"].startswith(("cassettes/", "suites/venv/")) for f in doc["shard"]["files"])

    # one machine checked out other data: a row's text changed, no case id did
    data.write_text(ROWS.replace("good topic 3", "good topic three"))
    with network_blocked():
        project.run("run", "suites", "--shard", "3/4", "--report", "json=out/other-data.json")
    code, text = merge(project, *shards()[:2], "out/other-data.json", shards()[3])
    assert code == EXIT_USER_ERROR and "out/other-data.json" in text and "data/rows.csv" in text, text
    data.write_text(ROWS)

    # another machine had another wording of the prompt template
    template.write_text("Tell me all about {{ topic }}.")
    with network_blocked():
        project.run("run", "suites", "--shard", "2/4", "--report", "json=out/other-template.json")
    code, text = merge(project, shards()[0], "out/other-template.json", *shards()[2:])
    assert code == EXIT_USER_ERROR and "out/other-template.json" in text and "suites/ask.j2" in text, text


def test_a_selection_of_nothing_merges_to_what_one_job_gives(project: Project, fake: FakeOpenAI) -> None:
    chat_recorded(project, fake)
    with network_blocked():
        whole = project.run("run", "suites", "-k", "nothing-has-this-name")
        codes = sharded(project, 4, "-k", "nothing-has-this-name")
        picked = project.run("run", "suites", "-k", "greet", "--shard", "1/4", "--report", "json=out/greet.json")
    assert whole.code == EXIT_NO_CASES and codes == [EXIT_NO_CASES] * 4
    merged = project.run("merge", *shards())
    assert merged.code == EXIT_NO_CASES, merged.text
    assert merged.err == whole.err and "no case id matches -k 'nothing-has-this-name'" in merged.err
    assert picked.code == EXIT_OK  # a shard holding none of a selection of something passes
    code, text = merge(project, "out/greet.json", *shards()[1:])  # a shard of another selection: not one run
    assert code == EXIT_USER_ERROR and "selected other cases" in text, text


ADAPTIVE = """
model: gpt-4o
min_pass_rate: 0.7
samples: {min: 3, max: 12}
checks: [{contains: Paris}]
cases:
  - id: always
    prompt: "Capital of France? (always)"
  - id: never
    prompt: "Capital of France? (never)"
  - id: coin
    prompt: "Capital of France? (coin)"
    models: [gpt-4o, gpt-4o-mini]
  - id: other
    prompt: "Capital of France? (other)"
    matrix: {n: [1, 2, 3]}
"""


def test_adaptive_samples_and_variants_merge_to_the_unsharded_run(project: Project, fake: FakeOpenAI) -> None:
    from harness.testing.fake_openai import Rule

    for word, chance in (("always", 1.0), ("never", 0.0), ("coin", 0.7), ("other", 0.9)):
        fake.add_rule(Rule(contains=f"({word})", content="Paris", failing="Lyon", pass_probability=chance, seed=3))
    project.suite("adaptive.yaml", ADAPTIVE)
    recorded = project.record(fake, "suites")
    fake.stop()
    extra = len([p for p in (project.root / "cassettes").rglob("*#*.yaml") if int(p.stem.rsplit("#", 1)[1]) >= 3])
    assert extra > 0, recorded.text  # some case took samples beyond its minimum: they replay too
    for count, options in ((4, ()), (3, ("--samples", "2")), (1, ())):
        with network_blocked():
            whole = project.run("run", "suites", "--report", "json=out/whole.json", *options)
            codes = sharded(project, count, *options)
            merged = project.run("merge", *shards(count), "--report", "json=out/merged.json")
        assert merged.code == whole.code, (count, options, merged.text)
        assert len(codes) == count
        a, b = (json.loads((project.root / "out" / n).read_text()) for n in ("whole.json", "merged.json"))
        assert without_timings(a) == without_timings(b), (count, options)


def test_shards_of_another_harness_version_are_refused_even_all_of_them(project: Project, fake: FakeOpenAI) -> None:
    chat_recorded(project, fake)
    with network_blocked():
        assert sharded(project, 2) == [EXIT_OK] * 2
    for path in shards(2):  # both machines ran another version than the merge's
        doc = json.loads((project.root / path).read_text())
        doc["harness_version"] = "9.9.9"
        doc["cases"] = [{"renamed": "keys of another version"} for _ in doc["cases"]]
        (project.root / path).write_text(json.dumps(doc))
    code, text = merge(project, *shards(2))
    assert code == EXIT_USER_ERROR and "out/shard-1.json" in text and "harness 9.9.9" in text, text


def test_the_same_report_twice_or_a_merged_report_is_refused(project: Project, fake: FakeOpenAI) -> None:
    chat_recorded(project, fake)
    with network_blocked():
        assert sharded(project, 2) == [EXIT_OK] * 2
    assert project.run("merge", *shards(2), "--report", "json=out/merged.json").code == EXIT_OK
    code, text = merge(project, *shards(2), "./" + shards(2)[1])
    assert code == EXIT_USER_ERROR and "shard 2/2 is given twice" in text, text
    code, text = merge(project, shards(2)[0], "out/merged.json")
    assert code == EXIT_USER_ERROR and "out/merged.json" in text and "whole run" in text, text


def test_a_shard_checks_its_own_cases_and_every_shard_the_suite(project: Project, fake: FakeOpenAI) -> None:
    from test_shards import bench, cases_of, recorded

    from harness.shard import shard_of

    recorded(project, fake, bench(set()))
    owner = {c.id: shard_of(c, 4) for c in cases_of(project.root) if c.suite_name == "bench"}
    suite = project.root / "suites" / "bench.yaml"
    good = suite.read_text()

    def broken(case_id: str, line: str) -> None:
        suite.write_text(good.replace(f"  - id: {case_id}\n", f"  - id: {case_id}\n{line}\n"))

    def runs() -> tuple[str, list[tuple[int, str]]]:
        with network_blocked():
            whole = project.run("run", "suites")
            parts = [project.run("run", "suites", "--shard", f"{k}/4", "--report", f"json=out/shard-{k}.json")
                     for k in range(1, 5)]
        assert whole.code == EXIT_USER_ERROR and "Traceback" not in whole.text + "".join(p.text for p in parts)
        return whole.err, [(p.code, p.err) for p in parts]

    # a key no case may have, in a case of shard 3: that shard fails with the message one job gives
    victim = next(i for i, k in owner.items() if k == 3)
    broken(victim, "    promt: typo")
    message, parts = runs()
    assert f"[case {victim}]" in message and "promt" in message
    assert parts[2] == (EXIT_USER_ERROR, message)
    assert [code for code, _ in parts] == [EXIT_OK, EXIT_OK, EXIT_USER_ERROR, EXIT_OK]  # the others' cases are fine
    code, text = merge(project, *shards())  # shard 3 wrote its report with the error in it
    assert code == EXIT_USER_ERROR and text == " ".join(message.split())  # what one job says
    code, text = merge(project, *shards()[:2], shards()[3])  # without shard 3's report
    assert code == EXIT_USER_ERROR and "missing shard(s) 3/4" in text

    # a case another shard owns, broken so that making it fails: every shard says what one job says
    other = next(i for i, k in owner.items() if k == 2)
    broken(other, "    matrix: 5")
    message, parts = runs()
    assert f"[case {other}]" in message and "matrix" in message
    assert parts == [(EXIT_USER_ERROR, message)] * 4

    # a broken suite-level key: every shard finds it
    suite.write_text(good.replace("min_pass_rate: 0.75", "min_pass_rate: high"))
    message, parts = runs()
    assert "min_pass_rate" in message and parts == [(EXIT_USER_ERROR, message)] * 4


def test_shard_reports_kept_beside_the_suites_do_not_part_the_shards(project: Project, fake: FakeOpenAI) -> None:
    chat_recorded(project, fake)
    beside = [f"suites/shard-{k}.json" for k in range(1, 5)]
    for _ in range(2):  # the second round sees the first round's reports, and overwrites them one by one
        with network_blocked():
            codes = [project.run("run", "suites", "--shard", f"{k}/4", "--report", f"json={beside[k - 1]}").code
                     for k in range(1, 5)]
        assert codes == [EXIT_OK] * 4
        code, text = merge(project, *beside)
        assert code == EXIT_OK, text


def test_a_case_broken_past_the_schema_reads_the_same_on_every_shard(project: Project, fake: FakeOpenAI) -> None:
    from test_shards import bench, cases_of, recorded

    from harness.shard import shard_of

    recorded(project, fake, bench(set()))
    owner = {c.id: shard_of(c, 4) for c in cases_of(project.root) if c.suite_name == "bench"}
    suite = project.root / "suites" / "bench.yaml"
    other = next(i for i, k in owner.items() if k == 1)
    good = suite.read_text()
    tool = ("    tools: [{type: function, function: {name: f, parameters: {type: object}}, impl: 'tools_impl:f', "
            "results: [{when: {}, result: x}]}]\n")
    for broken in ("    samples: lots\n", tool):  # one breaks the making of the case, one fails it its own way
        suite.write_text(good.replace(f"  - id: {other}\n", f"  - id: {other}\n{broken}"))
        with network_blocked():
            whole = project.run("run", "suites")
            parts = [project.run("run", "suites", "--shard", f"{k}/4") for k in range(1, 5)]
        assert whole.code == EXIT_USER_ERROR and f"[case {other}]" in whole.err and "Traceback" not in whole.text
        assert [(p.code, p.err) for p in parts] == [(EXIT_USER_ERROR, whole.err)] * 4, (broken, whole.err)


def test_reports_of_any_format_written_beside_the_suites_do_not_part_the_shards(
        project: Project, fake: FakeOpenAI) -> None:
    chat_recorded(project, fake)
    notes = project.root / "suites" / "notes.md"  # a file of the user's own, as a template could be
    notes.write_text("what the prompts are for\n")

    def beside(k: int) -> list[str]:
        return ["--report", f"junit=suites/junit-{k}.xml", "--report", f"markdown=suites/summary-{k}.md",
                "--report", f"html=suites/report-{k}.html", "--report", f"json=out/shard-{k}.json"]

    for _ in range(2):  # the second round sees the first round's reports and the merged one
        with network_blocked():
            codes = [project.run("run", "suites", "--shard", f"{k}/4", *beside(k)).code for k in range(1, 5)]
        assert codes == [EXIT_OK] * 4
        code, text = merge(project, *shards(), "--report", "markdown=suites/merged.md")
        assert code == EXIT_OK, text
    doc = json.loads((project.root / "out" / "shard-4.json").read_text())
    assert "suites/notes.md" in {f["path"] for f in doc["shard"]["files"]}
    assert not any(f["path"].endswith((".xml", ".html")) or "summary" in f["path"] for f in doc["shard"]["files"])

    # a file of the user's changed between two shards still parts them, and so does a report
    # edited by hand after harness wrote it: its bytes are no longer harness's
    for changed in (notes, project.root / "suites" / "junit-1.xml"):
        with network_blocked():
            assert project.run("run", "suites", "--shard", "1/4", *beside(1)).code == EXIT_OK
            changed.write_text(changed.read_text() + "<!-- edited -->\n")
            assert project.run("run", "suites", "--shard", "2/4", "--report", "json=out/shard-2.json").code == EXIT_OK
        code, text = merge(project, *shards())
        assert code == EXIT_USER_ERROR and changed.relative_to(project.root).as_posix() in text, text
