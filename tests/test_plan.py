"""harness plan: which cases a recording would send and what it would cost, computed without sending
anything; its numbers checked against tiktoken and the price table by hand, and the budget
(--max-cost) reserving the same estimate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tiktoken
import yaml

from harness.testing.fake_openai import FakeOpenAI

from conftest import CANARY, Project

# Round prices (USD per 1M tokens) make hand-computed costs easy to read.
PRICES = "pricing:\n  gpt-4o: {input: 2.0, output: 8.0, cached_input: 0.5, batch_input: 1.0, batch_output: 4.0}\n"
LONG = " ".join(f"Rule {i}: answer carefully and cite the section number." for i in range(150))
SHARED = f"""
model: gpt-4o
system: "{LONG}"
{PRICES}
cases:
  - id: alpha
    prompt: Alpha question
    max_tokens: 100
  - id: beta
    prompt: Beta question
  - id: gamma
    prompt: Gamma question
    samples: 2
"""


def plan_json(project: Project, *args: str) -> dict[str, Any]:
    result = project.run("plan", *args, "--json")
    assert result.code == 0, result.text
    return json.loads(result.out)


def cases_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for s in doc["suites"] for c in s["cases"]}


def usd(input_tokens: int, output_tokens: int, *, cached: int = 0, batch: bool = False) -> float:
    """The price table above, by hand: cached input at 0.5 (also in batch: the cheaper of the two)."""
    price_in, price_out = (1.0, 4.0) if batch else (2.0, 8.0)
    return ((input_tokens - cached) * price_in + cached * 0.5 + output_tokens * price_out) / 1e6


def prompt_tokens(enc: Any, messages: list[tuple[str, str]]) -> int:
    """OpenAI's cookbook count: 3 tokens per message, its role and content, 3 to prime the reply."""
    return 3 + sum(3 + len(enc.encode(role)) + len(enc.encode(content)) for role, content in messages)


def test_plan_counts_tokens_and_prices_standard_batch_and_cached_prefix(project: Project) -> None:
    project.suite("s.yaml", SHARED)
    doc = plan_json(project, "suites")
    enc = tiktoken.get_encoding(doc["tokenizer"]["encoding"])
    cases = cases_of(doc)
    assert list(cases) == ["alpha", "beta", "gamma", "gamma#1"]
    assert all(c["action"] == "send" and c["reason"] == "missing" for c in cases.values())
    for name, prompt in (("alpha", "Alpha question"), ("beta", "Beta question"), ("gamma", "Gamma question")):
        assert cases[name]["calls"][0]["input_tokens"] == prompt_tokens(enc, [("system", LONG), ("user", prompt)])
    alpha, beta = cases["alpha"]["calls"][0], cases["beta"]["calls"][0]
    # Output: alpha's own max_tokens; beta has none and no recording: the documented assumption,
    # while at most it may take gpt-4o's output limit (what --max-cost reserves).
    assert (alpha["output_tokens"], alpha["output_basis"], alpha["output_ceiling"]) == (100, "max_tokens", 100)
    assert (beta["output_tokens"], beta["output_basis"], beta["output_ceiling"]) == (1024, "assumed", 16_384)
    assert doc["assumptions"]["default_output_tokens"] == 1024
    # Prompt cache: the first call finds nothing; the next ones repeat the system prompt (over 1,024
    # tokens), served in steps of 128 tokens up to where the prompts part ("Alpha" / "Beta").
    shared = len(enc.encode("system:")) + len(enc.encode(LONG)) + len(enc.encode("user:"))
    assert shared >= 1024
    assert alpha["cached_input_tokens"] == 0
    assert beta["cached_input_tokens"] == cases["gamma"]["calls"][0]["cached_input_tokens"] == shared // 128 * 128
    # gamma's second sample is the very same request: its whole prompt, to the last full step.
    whole = shared + len(enc.encode("Gamma question"))
    assert cases["gamma#1"]["calls"][0]["cached_input_tokens"] == whole // 128 * 128
    for call in (alpha, beta):
        inp, out, cached = call["input_tokens"], call["output_tokens"], call["cached_input_tokens"]
        cost = call["cost_usd"]
        assert abs(cost["standard"] - usd(inp, out)) < 1e-8
        assert abs(cost["batch"] - usd(inp, out, batch=True)) < 1e-8
        assert abs(cost["cached"] - usd(inp, out, cached=cached)) < 1e-8
        assert abs(cost["batch_cached"] - usd(inp, out, cached=cached, batch=True)) < 1e-8
        assert abs(cost["at_most"] - usd(inp, call["output_ceiling"])) < 1e-8
    calls = [c["calls"][0] for c in cases.values()]
    summary = doc["summary"]
    assert summary["tokens"] == {"input": sum(c["input_tokens"] for c in calls),
                                 "cached_input": sum(c["cached_input_tokens"] for c in calls),
                                 "output": sum(c["output_tokens"] for c in calls)}
    assert abs(summary["cost_usd"]["standard"] - sum(usd(c["input_tokens"], c["output_tokens"]) for c in calls)) < 1e-7
    assert summary["complete"] and summary["sent"] == 4 and summary["assumed_outputs"] == 3
    assert doc["command"] == "harness run suites --record-mode once"
    text = project.run("plan", "suites")
    assert text.code == 0
    assert "4 of 4 case(s) would be sent" in text.out and "command: harness run suites --record-mode once" in text.out
    assert f"standard ${summary['cost_usd']['standard']:.4f}" in text.out
    assert "1,024 tokens that an earlier call repeated, in steps of 128" in " ".join(text.out.split())


def test_plan_decides_like_a_run_and_shows_an_edited_case_stale(project: Project, fake: FakeOpenAI) -> None:
    suite = project.suite("s.yaml", f"model: gpt-4o\n{PRICES}cases:\n  - id: one\n    prompt: first\n"
                                    "  - id: two\n    prompt: second\n  - id: three\n    prompt: third\n"
                                    "    skip: later\n")
    assert project.record(fake, "suites").code == 0
    fake.stop()
    assert plan_json(project, "suites")["summary"]["sent"] == 0
    nothing = project.run("plan", "suites")
    assert "nothing to send" in nothing.out and "command:" not in nothing.out
    suite.write_text(suite.read_text().replace("prompt: second", "prompt: second, edited"))
    once = cases_of(plan_json(project, "suites"))
    assert {n: c["action"] for n, c in once.items()} == {"one": "replay", "two": "stale", "three": "skipped"}
    printed = project.run("plan", "suites")
    assert "1 stale case(s) are not sent by --record-mode once: --record-mode new_episodes" in " ".join(printed.out.split())
    doc = plan_json(project, "suites", "--record-mode", "new_episodes")
    two = cases_of(doc)["two"]
    assert (two["action"], two["reason"]) == ("send", "stale")
    # No max_tokens: a re-recording expects an answer as long as the one it replaces.
    recorded = yaml.safe_load((project.root / "cassettes" / "s" / "two.yaml").read_text())
    usage = json.loads(recorded["interactions"][0]["response"]["body"]["string"])["usage"]
    assert (two["calls"][0]["output_tokens"], two["calls"][0]["output_basis"]) == (usage["completion_tokens"], "recorded")
    assert doc["command"] == "harness run suites --record-mode new_episodes"
    everything = plan_json(project, "suites", "--record-mode", "all", "-k", "one or two")
    assert {n: (c["action"], c["reason"]) for n, c in cases_of(everything).items()} == \
        {"one": ("send", "all"), "two": ("send", "all")}
    assert everything["command"] == "harness run suites --record-mode all -k 'one or two'"
    # A renamed case has no cassette: missing.
    suite.write_text(suite.read_text().replace("id: one\n", "id: uno\n"))
    assert cases_of(plan_json(project, "suites"))["uno"]["reason"] == "missing"


def test_plan_sends_nothing_and_never_loads_the_sdk(project: Project) -> None:
    project.suite("s.yaml", SHARED)
    code = ("import socket, sys\n"
            "def refuse(*a, **k): raise AssertionError('a socket was opened')\n"
            "socket.socket.connect = refuse; socket.create_connection = refuse\n"
            "from harness.cli import main\n"
            "rc = main(['plan', 'suites', '--record-mode', 'all'])\n"
            "assert 'openai' not in sys.modules and 'httpx' not in sys.modules, 'an HTTP client was imported'\n"
            "sys.exit(rc)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=project.root, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": CANARY}, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 of 4 case(s) would be sent" in done.stdout
    assert not list((project.root / "cassettes").rglob("*.yaml"))


def test_plan_json_shape(project: Project) -> None:
    project.suite("s.yaml", SHARED)
    project.suite("other.yaml", "model: mystery-model\ncases:\n  - id: x\n    prompt: hi\n")
    doc = plan_json(project, "suites")
    assert doc["schema"] == "harness.plan/1" and doc["record_mode"] == "once"
    assert set(doc) >= {"harness_version", "command", "tokenizer", "assumptions", "summary", "suites"}
    summary = doc["summary"]
    assert set(summary) >= {"cases", "sent", "calls", "actions", "reasons", "tokens", "cost_usd", "priced_cost_usd",
                            "unpriced_models", "unpriced_calls", "unknown_steps", "judged", "complete"}
    # A model without a price is named and never counted as $0: the total is unknown.
    assert summary["unpriced_models"] == ["mystery-model"] and summary["cost_usd"] is None
    assert not summary["complete"] and summary["priced_cost_usd"]["standard"] > 0
    other = next(s for s in doc["suites"] if s["path"] == "suites/other.yaml")
    assert other["cost_usd"] is None and other["cases"][0]["calls"][0]["cost_usd"] is None
    shared = next(s for s in doc["suites"] if s["path"] == "suites/s.yaml")
    assert shared["cost_usd"] == shared["priced_cost_usd"]
    case = shared["cases"][0]
    assert set(case) >= {"node_id", "id", "name", "sample", "model", "api", "action", "reason", "step", "calls"}
    assert set(case["calls"][0]) == {"step", "input_tokens", "cached_input_tokens", "output_tokens", "output_basis",
                                     "output_ceiling", "cost_usd"}
    printed = project.run("plan", "suites")
    assert "no price for mystery-model (1 call(s)): not in the sums (+?)" in " ".join(printed.out.split())
    assert " +?" in printed.out


def test_plan_errors_are_user_errors(project: Project) -> None:
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: a\n    prompt: '{{ nope }}'\n")
    result = project.run("plan", "suites")
    assert result.code == 2 and "suites/s.yaml:4 [case a]" in result.err and "nope" in result.err
    assert "Traceback" not in result.err
    with pytest.raises(SystemExit) as stopped:  # argparse: none is not a recording to plan
        project.run("plan", "suites", "--record-mode", "none")
    assert stopped.value.code == 2


IMPL = "def clock(city):\n    return {'city': city, 'time': '10:00'}\n"
LOOP = f"""
model: gpt-4o
max_tokens: 50
{PRICES}
tools:
  - type: function
    impl: tools_impl:clock
    function:
      name: clock
      parameters: {{type: object, properties: {{city: {{type: string}}}}, required: [city]}}
cases:
  - id: agent
    prompt: What time is it in Lima?
"""


def test_plan_estimates_an_episode_from_its_recording_and_says_when_steps_are_unknown(project: Project,
                                                                                    fake: FakeOpenAI) -> None:
    (project.root / "suites" / "tools_impl.py").write_text(IMPL)
    project.suite("loop.yaml", LOOP)
    fresh = cases_of(plan_json(project, "suites"))["agent"]
    assert fresh["unknown_steps"] and [c["step"] for c in fresh["calls"]] == [1]  # only step 1 is known
    printed = project.run("plan", "suites")
    assert "estimated for their first step only" in " ".join(printed.out.split())
    assert "1+?" in printed.out
    assert project.record(fake, "suites").code == 0
    assert len(fake.requests) == 2  # the tool call, then the answer after the tool's result
    fake.stop()
    again = cases_of(plan_json(project, "suites", "--record-mode", "all"))["agent"]
    assert not again["unknown_steps"] and [c["step"] for c in again["calls"]] == [1, 2]
    bodies = [json.loads(i["request"]["body"]) for i in
              yaml.safe_load((project.root / "cassettes" / "loop" / "agent.yaml").read_text())["interactions"]]
    enc = tiktoken.get_encoding(plan_json(project, "suites")["tokenizer"]["encoding"])
    # Step 2 is counted over the request the recording sent: the question, the call and its result.
    second = bodies[1]
    expected = 3 + len(enc.encode(json.dumps(second["tools"], separators=(",", ":"))))
    for message in second["messages"]:
        expected += 3 + sum(len(enc.encode(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)))
                            for k, v in message.items() if v is not None)
    assert again["calls"][1]["input_tokens"] == expected
    assert again["calls"][1]["output_tokens"] == 50  # max_tokens holds for every step
    # The tool now answers differently: step 1 replays, step 2 is stale (found by walking offline).
    (project.root / "suites" / "tools_impl.py").write_text(IMPL.replace("10:00", "11:00"))
    stale = cases_of(plan_json(project, "suites"))["agent"]
    assert (stale["action"], stale["step"]) == ("stale", 2)
    resend = cases_of(plan_json(project, "suites", "--record-mode", "new_episodes"))["agent"]
    assert (resend["action"], resend["reason"], resend["step"]) == ("send", "stale", 2)
    assert [c["step"] for c in resend["calls"]] == [2] and resend["calls"][0]["input_tokens"] == expected
    # A recording cut short after step 1 (a budget stop, Ctrl-C): once records from step 2 on,
    # which nothing recorded can estimate.
    (project.root / "suites" / "tools_impl.py").write_text(IMPL)
    path = project.root / "cassettes" / "loop" / "agent.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["interactions"] = doc["interactions"][:1]
    path.write_text(yaml.safe_dump(doc))
    cut = cases_of(plan_json(project, "suites"))["agent"]
    assert (cut["action"], cut["reason"], cut["step"], cut["calls"], cut["unknown_steps"]) == \
        ("send", "missing", 2, [], True)


def test_max_cost_reserves_what_the_plan_shows(project: Project, fake: FakeOpenAI) -> None:
    # $1 per token: a call's ceiling (prompt + max_tokens) is a whole number of dollars.
    project.suite("s.yaml", "model: gpt-4o\nmax_tokens: 5\npricing:\n  gpt-4o: {input: 1000000, output: 1000000}\n"
                            "cases:\n  - id: a\n    prompt: first question\n  - id: b\n    prompt: second one\n")
    doc = plan_json(project, "suites")
    first = cases_of(doc)["a"]["calls"][0]["cost_usd"]["at_most"]
    assert first == cases_of(doc)["a"]["calls"][0]["input_tokens"] + 5
    # A budget a cent below the plan's "at most" for the first case: the budget refuses it unsent.
    short = project.record(fake, "suites/s.yaml::a", "--max-cost", str(first - 0.01))
    assert short.code == 4 and len(fake.requests) == 0, short.text
    # Exactly the plan's figure: the budget reserves it and the case is sent.
    enough = project.run("run", "suites/s.yaml::a", "--record-mode", "once", "--base-url", fake.base_url,
                         "--max-cost", str(first), env={"OPENAI_API_KEY": CANARY})
    assert enough.code == 0 and len(fake.requests) == 1, enough.text
    assert Path(project.root / "cassettes" / "s" / "a.yaml").is_file()


def test_plan_names_refused_cases_and_the_samples_an_adaptive_case_may_add(project: Project) -> None:
    project.suite("s.yaml", "model: gpt-4o\nmin_pass_rate: 0.5\ncases:\n  - id: huge\n    prompt: hi\n"
                            "    max_tokens: 100000\n  - id: sampled\n    prompt: pick\n    samples: {min: 2, max: 5}\n")
    doc = plan_json(project, "suites")
    cases = cases_of(doc)
    assert cases["huge"]["action"] == "refused" and "returns at most 16,384" in cases["huge"]["message"]
    assert [cases[n]["action"] for n in ("sampled", "sampled#1")] == ["send", "send"]
    assert doc["summary"]["adaptive_more"] == 3 and doc["summary"]["sent"] == 2
    printed = " ".join(project.run("plan", "suites").out.split())
    assert "huge: " in printed and "returns at most 16,384" in printed
    assert "adaptive samples: up to 3 more sample(s)" in printed
