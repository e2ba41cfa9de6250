"""Tools that answer themselves: record an agent loop against the loopback server, stop it, replay
offline (the tools run again), and see a changed tool turn the case STALE at the right step."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import CANARY, Project, network_blocked

IMPL = """\
def get_weather(location, unit="celsius"):
    temps = {"Paris": 18, "Oslo": 3}
    return {"location": location, "temp": temps.get(location, 20), "unit": unit}


def broken(location):
    raise ValueError(f"no station near {location}")
"""

LOOP = """
    model: gpt-4o
    tools:
      - type: function
        impl: tools_impl:get_weather
        function:
          name: get_weather
          description: Current weather for a city.
          parameters:
            type: object
            properties:
              location: {type: string}
              unit: {type: string, enum: [celsius, fahrenheit]}
            required: [location]
    cases:
      - id: paris
        prompt: What's the weather in Paris?
        checks:
          - contains: '"temp": 18'
      - id: scripted
        prompt: Is it cold in Oslo today?
        vars: {forecast: "3 °C and snow"}
        tools:
          - type: function
            results:
              - arguments: {location: Oslo}
                result: "{{ forecast }}"
              - result: {temp: 20}
            function:
              name: get_weather
              parameters:
                type: object
                properties:
                  location: {type: string}
                required: [location]
        checks:
          - contains: "3 °C and snow"
      - id: plain
        tools: []
        prompt: Say hi.
        checks:
          - contains: "Echo: Say hi."
"""


def _loop_project(project: Project, suite: str = LOOP) -> Path:
    (project.root / "suites" / "tools_impl.py").write_text(IMPL)
    return project.suite("loop.yaml", suite)


def _interactions(project: Project, case: str) -> list[dict]:
    doc = yaml.safe_load((project.root / "cassettes" / "loop" / f"{case}.yaml").read_text())
    return doc["interactions"]


def test_a_loop_records_every_step_and_replays_offline_with_the_same_verdicts(project: Project,
                                                                              fake: FakeOpenAI) -> None:
    _loop_project(project)
    recorded = project.record(fake, "suites", "--report", "json=rec.json")
    assert recorded.code == 0, recorded.text
    assert "3 passed, 3 recorded" in recorded.out
    assert len(fake.requests) == 5  # paris: 2 steps, scripted: 2 steps, plain: 1
    second = [json.loads(r.body) for r in fake.requests if "Paris" in r.body.decode()][1]
    assert second["messages"][-1]["role"] == "tool"
    assert json.loads(second["messages"][-1]["content"]) == {"location": "Paris", "temp": 18, "unit": "celsius"}
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "get_weather"
    # harness's own keys are never sent, nor kept in a cassette
    assert all("impl" not in t and "results" not in t for r in fake.requests
               for t in json.loads(r.body).get("tools", []))
    text = (project.root / "cassettes" / "loop" / "paris.yaml").read_text()
    assert "tools_impl" not in text
    assert all("impl" not in t and "results" not in t for s in _interactions(project, "paris")
               for t in json.loads(s["request"]["body"]).get("tools", []))
    steps = _interactions(project, "paris")
    assert [(s["harness"]["step"], s["harness"]["turn"]) for s in steps] == [(1, 1), (2, 1)]
    assert steps[1]["harness"]["prompt"][1] == {"assistant": {"tool_calls": [{"get_weather": {"location": "Paris"}}]}}
    assert "step" not in _interactions(project, "plain")[0]["harness"]  # one request: unmarked
    fake.stop()
    with network_blocked() as attempts:
        replay = project.run("run", "suites", "--report", "json=replay.json")
    assert attempts == []
    assert replay.code == 0, replay.text
    assert "3 passed" in replay.out
    verdicts = {c["id"]: (c["status"], [(k["name"], k["passed"]) for k in c["checks"]])
                for c in json.loads((project.root / "replay.json").read_text())["cases"]}
    assert verdicts == {c["id"]: (c["status"], [(k["name"], k["passed"]) for k in c["checks"]])
                        for c in json.loads((project.root / "rec.json").read_text())["cases"]}
    assert verdicts["scripted"] == ("passed", [("contains", True), ("tool-schema", True)])
    paris = next(c for c in json.loads((project.root / "replay.json").read_text())["cases"] if c["id"] == "paris")
    recorded_usage = [json.loads(s["response"]["body"]["string"])["usage"]["total_tokens"] for s in steps]
    assert paris["usage"]["total_tokens"] == sum(recorded_usage)  # the report counts every step


def test_results_sum_usage_latency_and_cost_over_the_steps(project: Project, fake: FakeOpenAI) -> None:
    from harness.runner import RunOptions, collect, execute, plan, select_cases

    _loop_project(project)
    assert project.record(fake, "suites").code == 0
    fake.stop()
    suites, selected = collect(["suites/loop.yaml::paris"], lambda _t: None)
    planned, errors = plan(select_cases(suites, selected, None))
    assert not errors
    result = execute(planned, RunOptions())[0]
    episode = result.episode
    assert episode is not None and len(episode.steps) == 2 and episode.stopped is None
    assert [s.turn for s in episode.steps] == [0, 0]
    assert episode.steps[0].tool_results[0].name == "get_weather"
    assert episode.steps[0].tool_results[0].arguments == {"location": "Paris"}
    assert result.output is not None and result.output.content == episode.final.content
    usages = [s.output.usage for s in episode.steps]
    assert result.output.usage is not None and all(usages)
    assert result.output.usage.total_tokens == sum(u.total_tokens for u in usages if u)
    assert result.cost_usd is not None and result.cost_usd > 0
    assert result.cost_usd == sum(s.cost_usd or 0 for s in episode.steps)


def test_a_changed_tool_result_is_stale_at_step_2_and_new_episodes_records_from_there(
        project: Project, fake: FakeOpenAI) -> None:
    _loop_project(project)
    assert project.record(fake, "suites").code == 0
    (project.root / "suites" / "tools_impl.py").write_text(IMPL.replace('"Paris": 18', '"Paris": 21'))
    stale = project.run("run", "suites")
    assert stale.code == 3, stale.text
    assert "2 passed, 1 stale" in stale.out
    assert "the request of step 2 changed since it was recorded" in stale.out
    assert '\\"temp\\": 18' in stale.out and '\\"temp\\": 21' in stale.out  # the tool's content, old and new
    assert "harness run 'suites/loop.yaml::paris' --record-mode new_episodes" in stale.out
    # What led to the change: the step replayed before it, with the tool's new result.
    assert "replayed before step 2:" in stale.out and "trajectory: 1 step · " in stale.out
    assert 'get_weather({"location": "Paris"}) → {"location": "Paris", "temp": 21' in stale.out
    before = len(fake.requests)
    result = project.record(fake, "suites", mode="new_episodes")
    assert result.code == 1, result.text  # the new temperature fails the check
    assert len(fake.requests) == before + 1  # step 1 replayed, only step 2 sent
    sent = json.loads(fake.requests[-1].body)["messages"][-1]
    assert sent["role"] == "tool" and '"temp": 21' in sent["content"]
    assert "1 recorded" in result.out
    steps = _interactions(project, "paris")
    assert len(steps) == 2 and '"temp": 21' in steps[1]["harness"]["answer"]
    fake.stop()
    assert project.run("run", "suites").code == 1  # replays the new recording: the check fails


def test_max_steps_fails_that_case_clearly_and_the_others_pass(project: Project, fake: FakeOpenAI) -> None:
    suite = LOOP.replace("""      - id: plain""", """      - id: forever
        prompt: Keep checking the weather in Paris
        max_steps: 3
      - id: plain""")
    _loop_project(project, suite)
    fake.add_rule(Rule(contains="Keep checking", after_tool=True,
                       tool_calls=[{"name": "get_weather", "arguments": {"location": "Paris"}}]))
    fake.add_rule(Rule(contains="Keep checking",
                       tool_calls=[{"name": "get_weather", "arguments": {"location": "Paris"}}]))
    result = project.record(fake, "suites")
    assert result.code == 1, result.text
    assert "3 passed, 1 failed" in result.out
    assert sum("Keep checking" in r.body.decode() for r in fake.requests) == 3  # never a 4th call
    assert ("max_steps (3) reached at step 3 (turn 1): the model still called "
            'get_weather({"location": "Paris"}); nothing more was sent') in result.out
    assert len(_interactions(project, "forever")) == 3
    fake.stop()
    replay = project.run("run", "suites")
    assert replay.code == 1 and "3 passed, 1 failed" in replay.out
    assert "max_steps (3) reached at step 3" in replay.out


def test_parallel_tool_calls_are_all_answered_in_order(project: Project, fake: FakeOpenAI) -> None:
    suite = LOOP.replace("""      - id: plain""", """      - id: both
        prompt: Compare both cities
        checks:
          - contains: '"location": "Oslo", "temp": 3'
      - id: plain""")
    _loop_project(project, suite)
    fake.add_rule(Rule(contains="Compare both", tool_calls=[
        {"name": "get_weather", "arguments": {"location": "Paris"}},
        {"name": "get_weather", "arguments": {"location": "Oslo", "unit": "fahrenheit"}}]))
    assert project.record(fake, "suites").code == 0
    last = json.loads([r for r in fake.requests if b"Compare both" in r.body][-1].body)["messages"]
    calls = last[-3]["tool_calls"]
    assert [m["role"] for m in last[-3:]] == ["assistant", "tool", "tool"]
    assert [m["tool_call_id"] for m in last[-2:]] == [c["id"] for c in calls]
    assert [json.loads(m["content"])["location"] for m in last[-2:]] == ["Paris", "Oslo"]
    assert json.loads(last[-1]["content"])["unit"] == "fahrenheit"
    answer = _interactions(project, "both")[1]["harness"]["answer"]
    assert answer.index("Paris") < answer.index("Oslo")


def test_a_tool_that_fails_is_an_error_naming_step_tool_and_cause(project: Project, fake: FakeOpenAI) -> None:
    suite = LOOP.replace("""      - id: plain""", """      - id: raises
        prompt: Weather in Lima?
        tools:
          - type: function
            impl: tools_impl:broken
            function:
              name: get_weather
              parameters: {type: object, properties: {location: {type: string}}, required: [location]}
      - id: unanswered
        prompt: Weather in Quito?
        turns: [And tomorrow?]
        tools:
          - type: function
            function: {name: get_weather, parameters: {type: object, properties: {location: {type: string}}}}
      - id: garbled
        prompt: Garbled call please
      - id: plain""")
    _loop_project(project, suite)
    fake.add_rule(Rule(contains="Garbled", tool_calls=[{"name": "get_weather", "arguments": "{not json"}]))
    result = project.record(fake, "suites")
    assert result.code == 1, result.text
    assert "3 passed, 3 error," in result.out
    out = " ".join(result.out.split())
    assert ("step 1: tool 'get_weather': tools_impl:broken raised ValueError: no station near Lima "
            '(called with {"location": "Lima"}); nothing more was sent') in out
    assert "step 1: tool 'get_weather': the model called 'get_weather', which has no impl: or results:" in out
    assert ("step 1: tool 'get_weather': the model called 'get_weather' with '{not json': arguments are not "
            "valid JSON") in out
    assert "nothing more was sent; the 1 answer(s) received are kept in its cassette" in out
    calls = [r.body.decode() for r in fake.requests]
    assert sum("Lima" in b for b in calls) == 1 and sum("Quito" in b for b in calls) == 1  # nothing more sent
    fake.stop()
    replay = project.run("run", "suites")  # the answers were kept; the tool fails again, offline
    assert replay.code == 1 and "3 passed, 3 error in" in replay.out


def test_bad_impl_is_a_user_error_with_file_line_and_case(project: Project, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.py"
    outside.write_text(IMPL)
    _loop_project(project)
    os.remove(project.root / "suites" / "tools_impl.py")
    os.symlink(outside, project.root / "suites" / "tools_impl.py")
    result = project.run("validate", "suites")
    assert result.code == 2
    assert "suites/loop.yaml:4 [case paris]" in result.err
    assert "tool module 'tools_impl.py' is outside the project" in result.err
    (project.root / "suites" / "tools_impl.py").unlink()
    (project.root / "suites" / "tools_impl.py").write_text(IMPL)
    for impl, said in [("tools_impl:nope", "module 'tools_impl.py' has no 'nope'"),
                       ("missing_mod:get_weather", "no module file missing_mod.py beside the suite"),
                       ("tools_impl:IMPL_NOT", "has no 'IMPL_NOT'")]:
        _loop_project(project, LOOP.replace("tools_impl:get_weather", impl))
        result = project.run("run", "suites")
        assert result.code == 2, result.text
        assert f"suites/loop.yaml:4 [case paris]: impl {impl!r}" in result.err and said in result.err
    (project.root / "suites" / "tools_impl.py").write_text(IMPL + "\nVALUE = 3\n")
    _loop_project(project, LOOP.replace("tools_impl:get_weather", "tools_impl:VALUE"))
    (project.root / "suites" / "tools_impl.py").write_text(IMPL + "\nVALUE = 3\n")
    result = project.run("run", "suites")
    assert result.code == 2 and "impl 'tools_impl:VALUE' is not a function (it is a int)" in result.err
    assert "Traceback" not in result.text
    for impl in ("../outside:get_weather", "tools_impl"):  # not module:function at all
        _loop_project(project, LOOP.replace("tools_impl:get_weather", impl))
        result = project.run("validate", "suites")
        assert result.code == 2, result.text
        assert f"suites/loop.yaml:4: invalid suite at tools/0/impl: impl {impl!r} is not module:function" in result.err
        assert "e.g. impl: tools_impl:get_weather for tools_impl.py" in result.err


def test_bad_results_are_user_errors_at_their_line(project: Project) -> None:
    cases = [
        ("- arguments: {location: Oslo}\n                result:", "- argument: {location: Oslo}\n                result:",
         "suites/loop.yaml:25 [case scripted]: invalid suite at cases/1/tools/0/results/0: Additional properties are not allowed ('argument' was unexpected); did you mean 'arguments'?"),
        ("- result: {temp: 20}", "- result: {temp: 20}\n              - result: later",
         "suites/loop.yaml:28 [case scripted]: tool 'get_weather': results has 2 entries without 'arguments'"),
        ("            results:", "            impl: tools_impl:get_weather\n            results:",
         "[case scripted]: invalid suite at cases/1/tools/0"),
    ]
    for old, new, said in cases:
        _loop_project(project, LOOP.replace(old, new))
        result = project.run("validate", "suites")
        assert result.code == 2, (new, result.text)
        assert said in result.err, result.err


def test_the_pytest_door_records_and_replays_a_loop(pytester: pytest.Pytester, fake: FakeOpenAI,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makefile(".toml", pyproject="[project]\nname='demo'\n\n[tool.pytest.ini_options]\n"
                                         "harness_suites = ['suites']\n")
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "tools_impl.py").write_text(IMPL)
    (pytester.path / "suites" / "loop.yaml").write_text(
        "\n".join(line[4:] for line in LOOP.strip("\n").splitlines()) + "\n")
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    pytester.runpytest("suites", "--record-mode", "once").assert_outcomes(passed=3)
    assert len(fake.requests) == 5
    monkeypatch.delenv("OPENAI_API_KEY")
    fake.stop()
    pytester.runpytest("suites").assert_outcomes(passed=3)
    # A failing loop case tells where its trajectory went: each step's calls and tool results.
    (pytester.path / "suites" / "loop.yaml").write_text(
        (pytester.path / "suites" / "loop.yaml").read_text().replace(""""temp": 18'""", """"temp": 99'"""))
    failed = pytester.runpytest("suites")
    failed.assert_outcomes(passed=2, failed=1)
    text = failed.stdout.str()
    assert "trajectory: 2 steps" in text
    assert 'get_weather({"location": "Paris"})\n' in text and '→ {"location": "Paris", "temp": 18' in text


def test_a_rerecorded_loop_carries_its_old_trajectory_as_baseline(project: Project, fake: FakeOpenAI) -> None:
    from harness.api import run

    _loop_project(project)
    assert project.record(fake, "suites").code == 0
    (project.root / "suites" / "tools_impl.py").write_text(IMPL.replace('"Paris": 18', '"Paris": 21'))
    project.monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    result = run("suites/loop.yaml::paris", record_mode="new_episodes", base_url=fake.base_url)
    case = result.case_results[0]
    assert case.recorded and case.status == "failed" and case.baseline_status == "passed"
    assert case.episode is not None and case.baseline_episode is not None
    assert [len(e.steps) for e in (case.baseline_episode, case.episode)] == [2, 2]
    assert case.baseline_episode.steps[0].tool_results[0].content == (
        '{"location": "Paris", "temp": 18, "unit": "celsius"}')
    assert '"temp": 21' in case.episode.steps[0].tool_results[0].content
    assert case.baseline is not None and '"temp": 18' in (case.baseline.content or "")
    assert case.change is not None


def test_all_records_every_step_and_an_unchanged_loop_leaves_its_cassette_untouched(
        project: Project, fake: FakeOpenAI) -> None:
    _loop_project(project)
    assert project.record(fake, "suites").code == 0
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in project.cassette_files()}
    sent = len(fake.requests)
    result = project.record(fake, "suites", mode="all")
    assert result.code == 0 and "3 recorded" in result.out
    assert len(fake.requests) == sent + 5
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in project.cassette_files()} == before


def test_a_tool_result_holding_a_key_is_never_sent_nor_written(project: Project, fake: FakeOpenAI) -> None:
    (project.root / "suites" / "tools_impl.py").write_text(
        "import os\n\ndef get_weather(location):\n    return 'token ' + os.environ['OPENAI_API_KEY']\n")
    project.suite("loop.yaml", LOOP)
    result = project.record(fake, "suites")
    assert result.code == 1, result.text
    assert "step 2: the request holds the value of a secret (OPENAI_API_KEY)" in " ".join(result.out.split())
    assert not any(CANARY in r.body.decode() for r in fake.requests)
    assert CANARY not in project.all_files_text() and CANARY not in result.text


def test_each_module_file_is_loaded_once_per_content_and_never_shadows_another(
        project: Project, fake: FakeOpenAI) -> None:
    counting = ("from pathlib import Path\n"
                "with Path(__file__).with_name('loads.txt').open('a') as fh:\n    fh.write('x')\n\n"
                "def get_weather(location):\n    return 'A: sunny in ' + location\n")
    (project.root / "suites" / "tools_impl.py").write_text(counting)
    (project.root / "suites" / "other").mkdir()
    (project.root / "suites" / "other" / "tools_impl.py").write_text(
        "def get_weather(location):\n    return 'B: rain in ' + location\n")
    suite = LOOP.replace("""          - contains: '"temp": 18'""", """          - contains: 'A: sunny in Paris'""")
    project.suite("loop.yaml", suite.replace("      - id: plain", "      - id: lima\n        prompt: Weather in Lima?\n"
                                             "        checks: [{contains: 'A: sunny in Lima'}]\n      - id: plain"))
    project.suite("other/loop.yaml", suite.replace("    model: gpt-4o", "    name: other\n    model: gpt-4o")
                  .replace("A: sunny in Paris", "B: rain in Paris"))
    assert project.record(fake, "suites").code == 0
    assert project.run("run", "suites").code == 0
    assert (project.root / "suites" / "loads.txt").read_text() == "x"  # 2 cases, 2 runs: loaded once
    (project.root / "suites" / "tools_impl.py").write_text(counting.replace("sunny", "cloudy"))
    result = project.run("run", "suites/loop.yaml")
    assert result.code == 3 and "2 stale" in result.out  # the edited file is loaded again
    assert (project.root / "suites" / "loads.txt").read_text() == "xx"
