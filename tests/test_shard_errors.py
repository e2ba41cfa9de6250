"""A sharded run stopped by a user error gates as one job does: each shard that meets the error
writes its report with the error in it (and exits 2), and ``harness merge`` prints what the one
unsharded job prints, with its file, line and case, and exits with its status. Only a report that
is really not there is called a missing shard. Stale and missing cassettes (exit 3) read as in one
job too."""

from __future__ import annotations

from dataclasses import dataclass

from test_shards import bench

from harness.collect import collect, select_cases
from harness.errors import EXIT_CASSETTE, EXIT_OK, EXIT_USER_ERROR
from harness.shard import shard_of
from harness.testing.fake_openai import FakeOpenAI

from conftest import Project, network_blocked

ALPHA = """
name: alpha
model: gpt-4o
checks: [{contains: good}]
cases:
""" + "".join(f"  - id: a{i}\n    prompt: Answer good {i}.\n" for i in range(12))


@dataclass
class Runs:
    whole_code: int
    whole_err: str
    shards: list[tuple[int, str]]


def recorded(project: Project, fake: FakeOpenAI) -> dict[str, int]:
    """alpha and bench recorded from ``fake`` (then stopped); each case id -> its shard of 4."""
    project.suite("alpha.yaml", ALPHA)
    project.suite("bench.yaml", bench(set()))
    assert project.record(fake, "suites").code == EXIT_OK
    fake.stop()
    suites, selected = collect([str(project.root / "suites")])
    return {c.id: shard_of(c, 4) for c in select_cases(suites, selected, None)}


def runs(project: Project, *extra: str) -> Runs:
    """One job, then every shard of 4 writing out/shard-K.json, all offline."""
    with network_blocked():
        whole = project.run("run", "suites", *extra)
        parts = [project.run("run", "suites", "--shard", f"{k}/4", "--report", f"json=out/shard-{k}.json", *extra)
                 for k in range(1, 5)]
    assert "Traceback" not in whole.text + "".join(p.text for p in parts)
    return Runs(whole.code, whole.err, [(p.code, p.err) for p in parts])


def merged(project: Project) -> tuple[int, str, str]:
    """harness merge of the shard reports there are, as a CI glob (out/shard-*.json) gives them."""
    result = project.run("merge", *sorted(str(p) for p in (project.root / "out").glob("shard-*.json")))
    assert "Traceback" not in result.text
    return result.code, result.out, result.err


def broken(project: Project, suite: str, case_id: str, line: str) -> None:
    """Puts ``line`` under ``- id: case_id`` in the suite file, in place of the case's prompt when
    it is a ``prompt:`` or ``messages:`` line, else beside it."""
    path = project.root / "suites" / suite
    lines = path.read_text().splitlines(keepends=True)
    at = lines.index(f"  - id: {case_id}\n") + 1
    replaced = line.lstrip().startswith(("prompt:", "messages:"))
    path.write_text("".join(lines[:at] + [line + "\n"] + lines[at + replaced:]))


def test_errors_found_while_planning_cases_of_several_shards_merge_to_one_jobs_errors(
        project: Project, fake: FakeOpenAI) -> None:
    owner = recorded(project, fake)
    (project.root.parent / "outside.txt").write_text("a file beside the project")
    # three cases, on three shards: a template naming an undefined variable, a check with a bad
    # argument, a message file the project may not read
    first = next(i for i, k in owner.items() if k == 1 and i.startswith("q"))
    second = next(i for i, k in owner.items() if k == 3 and i.startswith("q"))
    third = next(i for i, k in owner.items() if k == 4 and i.startswith("a"))
    clean = {k for k in range(1, 5)} - {owner[first], owner[second], owner[third]}
    broken(project, "bench.yaml", first, "    prompt: 'Answer {{ nmae }} good.'")
    broken(project, "bench.yaml", second, "    checks: [{max_words: lots}]")
    broken(project, "alpha.yaml", third, "    messages: [{role: user, file: ../../outside.txt}]")

    seen = runs(project)
    assert seen.whole_code == EXIT_USER_ERROR
    lines = seen.whole_err.splitlines()
    assert len(lines) == 3, seen.whole_err
    assert f"[case {third}]" in lines[0] and "outside" in lines[0]  # alpha's cases come first
    assert f"[case {first}]" in seen.whole_err and "nmae" in seen.whole_err
    assert f"[case {second}]" in seen.whole_err and "max_words" in seen.whole_err
    for k, (code, err) in enumerate(seen.shards, start=1):
        if k in clean:
            assert (code, err) == (EXIT_OK, ""), (k, err)
        else:  # each shard names only its own case's error, as one job names it
            assert code == EXIT_USER_ERROR and err and set(err.splitlines()) <= set(lines), (k, err)

    code, out, err = merged(project)
    assert (code, err, out) == (EXIT_USER_ERROR, seen.whole_err, "")

    # a report that really is not there is still called missing
    (project.root / "out" / f"shard-{owner[first]}.json").unlink()
    code, _, err = merged(project)
    assert code == EXIT_USER_ERROR and f"missing shard(s) {owner[first]}/4" in err, err


def test_an_error_while_loading_merges_to_the_one_jobs_first_error(project: Project, fake: FakeOpenAI) -> None:
    owner = recorded(project, fake)
    # a key no case may have, in a case of each suite, on two shards: the one job stops at alpha's,
    # the first suite; the shard running bench's broken case checks only its own cases, yet must
    # name alpha's too, or the merge could not tell which one the one job stops at
    early = next(i for i, k in owner.items() if k == 4 and i.startswith("a"))
    late = next(i for i, k in owner.items() if k == 2 and i.startswith("q"))
    broken(project, "alpha.yaml", early, "    promt: typo")
    broken(project, "bench.yaml", late, "    promt: typo")

    seen = runs(project)
    assert seen.whole_code == EXIT_USER_ERROR
    assert f"[case {early}]" in seen.whole_err and "alpha.yaml" in seen.whole_err
    assert seen.shards[3] == seen.shards[1] == (EXIT_USER_ERROR, seen.whole_err)
    assert [code for code, _ in seen.shards] == [EXIT_OK, EXIT_USER_ERROR, EXIT_OK, EXIT_USER_ERROR]
    code, out, err = merged(project)
    assert (code, err, out) == (EXIT_USER_ERROR, seen.whole_err, "")

    # only the later suite broken: the shard running its case stops, and the merge says so too
    (project.root / "suites" / "alpha.yaml").write_text(ALPHA.lstrip())
    seen = runs(project)
    assert f"[case {late}]" in seen.whole_err and [code for code, _ in seen.shards] == [
        EXIT_OK, EXIT_USER_ERROR, EXIT_OK, EXIT_OK]
    code, out, err = merged(project)
    assert (code, err, out) == (EXIT_USER_ERROR, seen.whole_err, "")


def test_an_error_while_loading_outranks_errors_while_planning(project: Project, fake: FakeOpenAI) -> None:
    owner = recorded(project, fake)
    loading = next(i for i, k in owner.items() if k == 3 and i.startswith("q"))
    planning = next(i for i, k in owner.items() if k == 1 and i.startswith("a"))
    broken(project, "bench.yaml", loading, "    promt: typo")  # a later suite, but met first
    broken(project, "alpha.yaml", planning, "    prompt: 'Answer {{ nmae }} good.'")

    seen = runs(project)
    assert seen.whole_code == EXIT_USER_ERROR and f"[case {loading}]" in seen.whole_err
    assert "nmae" not in seen.whole_err  # one job stopped loading: it never planned alpha's case
    assert "nmae" in seen.shards[0][1]  # shard 1 loaded, and stopped planning its own case
    code, out, err = merged(project)
    assert (code, err, out) == (EXIT_USER_ERROR, seen.whole_err, "")


def test_batch_refusing_adaptive_samples_outranks_planning_errors_as_in_one_job(
        project: Project, fake: FakeOpenAI) -> None:
    owner = recorded(project, fake)
    early = next(i for i, k in owner.items() if k == 4 and i.startswith("a"))
    late = next(i for i, k in owner.items() if k == 2 and i.startswith("q"))
    planning = next(i for i, k in owner.items() if k == 1 and i.startswith("a"))
    broken(project, "alpha.yaml", early, "    samples: auto\n    min_pass_rate: 0.5")
    broken(project, "bench.yaml", late, "    samples: auto")
    broken(project, "alpha.yaml", planning, "    prompt: 'Answer {{ nmae }} good.'")

    seen = runs(project, "--batch", "--record-mode", "once")  # refused before anything is sent
    assert seen.whole_code == EXIT_USER_ERROR and "--batch cannot record adaptive samples" in seen.whole_err
    assert f"[case {early}]" in seen.whole_err and len(seen.whole_err.splitlines()) == 1
    assert "nmae" in seen.shards[0][1] and f"[case {late}]" in seen.shards[1][1]  # each shard its own
    code, out, err = merged(project)
    assert (code, err, out) == (EXIT_USER_ERROR, seen.whole_err, "")


def test_stale_and_missing_cassettes_merge_to_one_jobs_status_and_commands(project: Project, fake: FakeOpenAI) -> None:
    owner = recorded(project, fake)
    stale = [i for i, k in owner.items() if k == 2 and i.startswith("q")][:2]
    missing = next(i for i, k in owner.items() if k == 3 and i.startswith("a"))
    for case_id in stale:
        broken(project, "bench.yaml", case_id, f"    prompt: Answer good, {case_id} reworded.")
    for cassette in (project.root / "cassettes").rglob(f"{missing}.yaml"):
        cassette.unlink()

    seen = runs(project)
    code, out, _ = merged(project)
    with network_blocked():
        whole = project.run("run", "suites")
    assert whole.code == code == EXIT_CASSETTE
    assert [c for c, _ in seen.shards] == [EXIT_OK, EXIT_CASSETTE, EXIT_CASSETTE, EXIT_OK]

    def cassettes(text: str) -> list[str]:  # the sections, without the request diff only one job has
        lines = text[text.index("Stale cassettes"):].splitlines()
        return [line for line in lines if line.startswith(("Stale", "Missing", "~", "?", "    the", "  Re", "  Rec"))]

    assert cassettes(out) == cassettes(whole.out)
    assert (f"Re-record them: harness run 'suites/bench.yaml::{stale[0]}' 'suites/bench.yaml::{stale[1]}' "
            "--record-mode new_episodes") in out
