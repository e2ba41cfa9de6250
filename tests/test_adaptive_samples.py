"""Recording samples: ``--samples N``, adaptive ``samples: {min, max}`` / ``--samples auto``, recorded
from the loopback server playing a stochastic model, then replayed offline with it stopped.

The stop rule (harness.stats.needs_more) is tuned elsewhere, so these tests assert what holds for
any sensible rule: clear cases stop early, the bounds are respected, replay equals record.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

import harness
from harness.api import RunResult
from harness.runner import CaseResult
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import CANARY, Project, network_blocked

SUITE = """\
model: gpt-4o
min_pass_rate: 0.7
samples: {min: 3, max: 20}
checks:
  - contains: Paris
cases:
  - id: always
    prompt: "Capital of France? (always)"
  - id: never
    prompt: "Capital of France? (never)"
  - id: coin
    prompt: "Capital of France? (coin)"
"""


#: 'coin' answers 7 of every 10 right, in this order: its rate stays on the 0.7 threshold, so no
#: sensible stop rule can settle it as early as the cases that always or never pass.
BORDERLINE = "PPFPPFPPFP"


def _model(fake: FakeOpenAI, coin: float | None = None, always: float = 1.0) -> FakeOpenAI:
    for word, chance in (("always", always), ("never", 0.0)):
        fake.add_rule(Rule(contains=f"({word})", content="Paris", failing="Lyon", pass_probability=chance,
                           seed=7))
    if coin is None:
        for i in range(60):  # rules with times=1 answer in order
            fake.add_rule(Rule(contains="(coin)", content="Paris" if BORDERLINE[i % 10] == "P" else "Lyon",
                               times=1))
    else:
        fake.add_rule(Rule(contains="(coin)", content="Paris", failing="Lyon", pass_probability=coin, seed=7))
    return fake


def _record(project: Project, fake: FakeOpenAI, mode: str = "once", **options: object) -> RunResult:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENAI_API_KEY", CANARY)
        return harness.run("suites", record_mode=mode, base_url=fake.base_url, **options)  # type: ignore[arg-type]


def _per_case(result: RunResult) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for case in result.cases:
        out.setdefault(case.id, []).append(case.status)
    return out


def _files(project: Project) -> Counter[str]:
    return Counter(p.name.split("#")[0].removesuffix(".yaml") for p in project.cassette_files())


def test_adaptive_record_stops_clear_cases_early_and_replays_offline(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", SUITE)
    recorded = _record(project, _model(fake))
    assert not recorded.errors, recorded.errors
    taken = _per_case(recorded)
    sizes = {case: len(statuses) for case, statuses in taken.items()}
    assert set(taken["always"]) == {"passed"} and set(taken["never"]) == {"failed"}
    assert all(3 <= n <= 20 for n in sizes.values()), sizes
    # Clear cases stop before the max; the one at the threshold is sampled longest.
    assert sizes["always"] < 20 and sizes["never"] < 20, sizes
    assert sizes["coin"] > max(sizes["always"], sizes["never"]), sizes
    assert set(taken["coin"]) == {"passed", "failed"}
    # One cassette and one request per sample, named like fixed samples (id, id#1, ...).
    assert _files(project) == Counter(sizes)
    assert len(fake.requests) == sum(sizes.values())
    assert [c.name for c in recorded.cases if c.id == "never"] == ["never", "never#1", "never#2"][:sizes["never"]] \
        + [f"never#{k}" for k in range(3, sizes["never"])]
    # Listed case by case, samples in order, though cases were recorded in parallel.
    assert [(c.id, c.sample) for c in recorded.cases] == [(case, k) for case in ("always", "never", "coin")
                                                          for k in range(sizes[case])]

    fake.stop()
    with network_blocked() as attempts:
        replayed = harness.run("suites")
    assert not attempts
    assert [(c.name, c.status) for c in replayed.cases] == [(c.name, c.status) for c in recorded.cases]
    assert replayed.exit_code == recorded.exit_code


def test_replay_takes_exactly_the_samples_recorded(project: Project, fake: FakeOpenAI) -> None:
    """Fixed samples recorded earlier are all replayed by an adaptive suite (they were
    recorded), and a missing one below min is missing, not silently skipped."""
    project.suite("s.yaml", SUITE)
    assert not _record(project, _model(fake), samples=6).errors
    assert _files(project) == Counter({"always": 6, "never": 6, "coin": 6})
    fake.stop()
    replayed = harness.run("suites")
    assert {case: len(statuses) for case, statuses in _per_case(replayed).items()} == \
        {"always": 6, "never": 6, "coin": 6}
    (project.root / "cassettes" / "s" / "never#1.yaml").unlink()
    (project.root / "cassettes" / "s" / "never#4.yaml").unlink()
    replayed = harness.run("suites")
    assert _per_case(replayed)["never"] == ["failed", "missing", "failed", "failed", "failed"]
    assert replayed.exit_code == 3


def test_samples_override_fixes_the_count(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", SUITE)
    result = project.record(_model(fake), "suites", "--samples", "4")
    assert result.code == 1, result.text  # 'never' fails
    assert _files(project) == Counter({"always": 4, "never": 4, "coin": 4})
    fake.stop()
    assert "12 passed" not in project.run("run", "suites", "--samples", "4").out
    replay = project.run("run", "suites", "--samples", "4", "-q")
    assert "4 failed" in replay.out or "failed" in replay.out
    assert project.run("run", "suites", "--samples", "5", "-q").code == 3  # a 5th sample was never recorded


def test_samples_auto_makes_a_fixed_suite_adaptive(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", SUITE.replace("samples: {min: 3, max: 20}", "samples: 2"))
    result = project.record(_model(fake), "suites", "--samples", "auto")
    assert result.code == 1, result.text
    files = _files(project)
    assert 3 <= files["never"] < 20 and files["coin"] > files["never"], files
    fake.stop()
    assert project.run("run", "suites", "--samples", "auto", "-q").code == 1
    assert project.run("run", "suites", "-q").code == 1  # samples: 2 replays the first two


def test_rerecording_all_decides_afresh_and_drops_old_extra_samples(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", SUITE)
    first = _per_case(_record(project, _model(fake)))
    assert len(first["coin"]) > len(first["always"])
    with FakeOpenAI(require_key=CANARY) as better:  # the model improved: 'coin' now always passes
        again = _per_case(_record(project, _model(better, coin=1.0), mode="all"))
    assert len(again["coin"]) == len(again["always"]) < len(first["coin"])
    assert _files(project)["coin"] == len(again["coin"])
    fake.stop()
    assert _per_case(harness.run("suites")) == again


def test_recording_once_resumes_a_case_that_was_cut_short(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", SUITE)
    first = _per_case(_record(project, _model(fake)))
    folder = project.root / "cassettes" / "s"
    for k in range(3, len(first["coin"])):
        (folder / f"coin#{k}.yaml").unlink()
    sent = len(fake.requests)
    resumed = _per_case(_record(project, fake))
    assert len(fake.requests) > sent  # recorded the samples the rule still wanted
    assert resumed["always"] == first["always"] and resumed["never"] == first["never"]
    assert len(resumed["coin"]) > 3
    fake.stop()
    assert _per_case(harness.run("suites")) == resumed


def test_a_stopped_run_starts_no_more_samples(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", SUITE)
    stop = threading.Event()

    class StopAfterFive:
        seen = 0

        def start(self, total: int) -> None:
            pass

        def update(self, result: CaseResult) -> None:
            self.seen += 1
            if self.seen == 5:
                stop.set()

    result = _record(project, _model(fake), progress=StopAfterFive(), stop=stop, concurrency=1)
    assert result.stopped and result.exit_code == 130
    assert len(fake.requests) < 12  # far fewer than a full run's ~30; only what was in flight finished
    statuses = _per_case(result)
    assert all(len(s) <= 3 for s in statuses.values()), statuses  # no extra sample was started
    fake.stop()
    kept = sum(1 for c in result.cases if c.recorded)
    assert sum(_files(project).values()) == kept


def test_budget_stops_sampling(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", SUITE)
    result = _record(project, _model(fake), max_cost=0.0003, concurrency=1)
    assert result.exit_code == 4
    per_case = _per_case(result)
    assert all(s.count("skipped") <= 3 for s in per_case.values()), per_case
    assert len(fake.requests) == sum(1 for c in result.cases if c.recorded) == sum(_files(project).values())
    skipped_extra = [c for c in result.cases if c.status == "skipped" and c.sample >= 3]
    assert len(skipped_extra) <= 3  # at most the one refused sample per case, never a tail of them


def test_batch_refuses_adaptive_samples(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", SUITE)
    result = project.record(fake, "suites", "--batch")
    assert result.code == 2
    assert "suites/s.yaml:7 [case always]: --batch cannot record adaptive samples" in result.err
    assert not fake.requests and not project.cassette_files()
    assert project.record(fake, "suites", "--batch", "--samples", "2", "--batch-poll", "0.05").code == 1


@pytest.mark.parametrize(("samples", "expected"), [
    ("{min: 5, max: 2}", "suites/s.yaml:5 [case a]: samples: min (5) is above max (2)"),
    ("{min: 0, max: 5}", "suites/s.yaml:5 [case a]: invalid suite at cases/0/samples/min: 0 is less than the minimum"),
    ("{min: 3, max: 1001}", "suites/s.yaml:5 [case a]: invalid suite at cases/0/samples/max: 1001 is greater than"),
    ("{min: 3, mx: 9}", "did you mean 'max'?"),
    ("sometimes", "'sometimes' is not a number of samples; samples is a whole number from 1 to 100, auto"),
    ("{alpha: 0.9}", "samples/alpha: 0.9 is greater than or equal to the maximum of 0.5"),
])
def test_bad_sample_shapes_are_user_errors_at_their_line(project: Project, samples: str, expected: str) -> None:
    project.suite("s.yaml", f"model: gpt-4o\nmin_pass_rate: 0.8\ncases:\n  - id: a\n    samples: {samples}\n"
                            "    prompt: hi\n")
    result = project.run("run", "suites")
    assert result.code == 2 and expected in result.err, result.err
    assert "Traceback" not in result.text


def test_adaptive_samples_need_a_threshold(project: Project) -> None:
    project.suite("s.yaml", "model: gpt-4o\nsamples: auto\ncases:\n  - id: a\n    prompt: hi\n")
    result = project.run("run", "suites")
    assert result.code == 2
    assert "suites/s.yaml:2 [case a]: samples: auto takes more samples only while a case's pass rate is " \
           "unclear against a threshold, and there is none: set min_pass_rate" in result.err
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n")
    flag = project.run("run", "suites", "--samples", "auto")
    assert flag.code == 2 and "suites/s.yaml:3 [case a]: --samples auto takes more samples" in flag.err


@pytest.mark.parametrize("bad", ["0", "-2", "often", "2.5"])
def test_bad_samples_flag(project: Project, bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n")
    with pytest.raises(SystemExit) as exit_:
        project.run("run", "suites", "--samples", bad)
    assert exit_.value.code == 2
    assert "argument --samples: expected a whole number >= 1 or auto" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [0, True, "often", {"min": 5, "max": 2}, {"min": 0}, {"max": 5000},
                                 {"mins": 3}, {}, {"min": 3, "alpha": 0.6}])
def test_bad_samples_option_of_the_python_door(project: Project, bad: object) -> None:
    project.suite("s.yaml", "model: gpt-4o\nmin_pass_rate: 0.5\ncases:\n  - id: a\n    prompt: hi\n")
    result = harness.run("suites", samples=bad)  # type: ignore[arg-type]
    assert result.exit_code == 2 and "samples: expected a whole number >= 1, 'auto', or {min, max}" \
        in str(result.errors[0])


def test_python_door_takes_adaptive_samples(project: Project, fake: FakeOpenAI) -> None:
    project.suite("s.yaml", SUITE.replace("samples: {min: 3, max: 20}\n", ""))
    result = _record(project, _model(fake), samples={"min": 2, "max": 4})
    sizes = {case: len(s) for case, s in _per_case(result).items()}
    assert sizes["never"] == 2 and all(2 <= n <= 4 for n in sizes.values()), sizes
    suite = harness.load_suite(Path("suites/s.yaml"), samples="auto")
    assert {c.adaptive.max for c in suite.cases if c.adaptive} == {20}


def test_pytest_door_runs_the_recorded_samples(pytester: pytest.Pytester, fake: FakeOpenAI,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """An item per recorded sample; recording through pytest records each collected sample and
    never adds extra ones (each item is one sample: `harness run` decides how many a case needs)."""
    pytester.makefile(".toml", pyproject="[project]\nname='demo'\n\n[tool.pytest.ini_options]\n"
                                         "harness_suites = ['suites']\n")
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "s.yaml").write_text(SUITE)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    base = ["-p", "no:randomly", "-p", "no:cacheprovider"]
    first = pytester.runpytest("suites", "--record-mode", "once", "--harness-base-url", _model(fake).base_url, *base)
    counts = first.parseoutcomes()  # the suite's min_pass_rate makes failing samples xfail
    assert counts.get("passed", 0) + counts.get("xfailed", 0) == 9 and len(fake.requests) == 9
    harness.run("suites", record_mode="once", base_url=fake.base_url)  # the CLI's door adds samples
    recorded = len(list((pytester.path / "cassettes" / "s").iterdir()))
    assert recorded > 9
    fake.stop()
    monkeypatch.delenv("OPENAI_API_KEY")
    replay = pytester.runpytest("suites", *base)
    counts = replay.parseoutcomes()
    assert counts.get("passed", 0) + counts.get("xfailed", 0) == recorded
