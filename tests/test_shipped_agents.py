"""The shipped examples of agent loops, conversations and the Responses API replay offline with
the verdicts they were written for; an edited tool makes the loop STALE at the step that sends its
result; and every command docs/agents.md shows prints what the page says it prints."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from harness.testing.fake_answers import Rule
from harness.testing.fake_openai import FakeOpenAI

from conftest import Project, network_blocked

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "agents.md"
EXAMPLES = ("suites/weather_agent.yaml", "suites/conversation.yaml", "suites/structured_responses.yaml")
SHIPPED = ("suites", "cassettes", "scripts")
FORECAST = ('Forecast(18, "partly cloudy")', 'Forecast(21, "sunny")')


def _shipped(project: Project) -> Project:
    for folder in SHIPPED:
        shutil.rmtree(project.root / folder, ignore_errors=True)
        shutil.copytree(ROOT / folder, project.root / folder)
    return project


def _verdicts(report: Path) -> dict[str, tuple[str, list[tuple[str, bool]]]]:
    return {c["id"]: (c["status"], [(v["name"], v["passed"]) for v in c["checks"]])
            for c in json.loads(report.read_text())["cases"]}


def test_the_examples_replay_offline_with_their_verdicts(project: Project) -> None:
    _shipped(project)
    with network_blocked() as attempts:
        result = project.run("run", *EXAMPLES, "--report", "json=run.json")
    assert attempts == [] and result.code == 0, result.text
    assert "7 passed in" in result.out
    cases = {c["id"]: c for c in json.loads((project.root / "run.json").read_text())["cases"]}
    assert _verdicts(project.root / "run.json") == {
        "paris": ("passed", [("tool-call", True), ("icontains", True), ("steps", True), ("tool-schema", True)]),
        "tokyo-scripted": ("passed", [("tool-call", True), ("icontains", True), ("no-tool-call", True),
                                      ("steps", True), ("tool-schema", True)]),
        "egg-substitute": ("passed", [("icontains", True), ("icontains", True), ("length", True)]),
        "languages[chat]": ("passed", [("json-path", True), ("response-schema", True)]),
        "languages[responses]": ("passed", [("json-path", True), ("response-schema", True)]),
        "add-rust[chat]": ("passed", [("json-schema", True), ("json-path", True), ("json-schema", True),
                                      ("response-schema", True)]),
        "add-rust[responses]": ("passed", [("json-schema", True), ("json-path", True), ("json-schema", True),
                                           ("response-schema", True)]),
    }
    paris = cases["paris"]["steps"]
    assert [len(paris), paris[0]["tool_results"][0]["content"]] == [
        2, '{"location": "Paris", "temperature": 18, "unit": "celsius", "conditions": "partly cloudy"}']
    assert "18 °C" in cases["paris"]["answer"]["content"]
    assert cases["paris"]["usage"]["total_tokens"] == sum(s["usage"]["total_tokens"] for s in paris)
    assert cases["tokyo-scripted"]["steps"][0]["tool_results"][0]["content"].startswith("Tomorrow in Tokyo: 24 °C")
    assert [s["user"] for s in cases["egg-substitute"]["steps"]] == [
        "I'm baking banana bread and I'm out of eggs. What can I use instead?", "How much of it replaces two eggs?"]
    assert cases["add-rust[responses]"]["api"] == "responses" and "api" not in cases["add-rust[chat]"]


def test_the_chained_example_sends_only_the_new_turn_with_the_previous_id() -> None:
    chained = yaml.safe_load((ROOT / "cassettes" / "structured_responses" / "add-rust[responses].yaml").read_text())
    first, second = chained["interactions"]
    sent = json.loads(second["request"]["body"])
    assert sent["previous_response_id"] == json.loads(first["response"]["body"]["string"])["id"]
    assert sent["input"] == [{"role": "user", "content": "Add Rust to the list."}]
    assert sent["instructions"] == "You are a helpful assistant that answers in JSON."
    full = yaml.safe_load((ROOT / "cassettes" / "structured_responses" / "add-rust[chat].yaml").read_text())
    assert [m["role"] for m in json.loads(full["interactions"][1]["request"]["body"])["messages"]] == [
        "system", "user", "assistant", "user"]  # chat always sends the whole conversation


def test_an_edited_forecast_is_stale_at_step_2_and_new_episodes_sends_only_that_step(project: Project) -> None:
    _shipped(project)
    tools = project.root / "suites" / "weather_tools.py"
    tools.write_text(tools.read_text().replace(*FORECAST))
    with network_blocked() as attempts:
        stale = project.run("run", "suites/weather_agent.yaml")
    assert attempts == [] and stale.code == 3, stale.text
    assert "1 passed, 1 stale" in stale.out
    assert "the request of step 2 changed since it was recorded" in stale.out
    assert '\\"temperature\\": 18' in stale.out and '\\"temperature\\": 21' in stale.out
    assert "harness run 'suites/weather_agent.yaml::paris' --record-mode new_episodes" in stale.out

    rules = [Rule.from_mapping(r) for r in yaml.safe_load((ROOT / "scripts" / "example_answers.yaml").read_text())]
    with FakeOpenAI(rules=rules) as server:
        recorded = project.run("run", "suites/weather_agent.yaml", "--record-mode", "new_episodes",
                               "--base-url", server.base_url, env={"OPENAI_API_KEY": "sk-example-key"})
        sent = [json.loads(r.body) for r in server.requests]
    assert recorded.code == 0, recorded.text
    assert len(sent) == 1  # step 1 replayed from the cassette; only step 2 went out
    assert json.loads(sent[0]["messages"][-1]["content"])["temperature"] == 21
    assert "step 1: get_weather result changed" in recorded.out
    steps = yaml.safe_load((project.root / "cassettes" / "weather_agent" / "paris.yaml").read_text())["interactions"]
    assert [s["harness"]["step"] for s in steps] == [1, 2] and '"temperature": 21' in steps[1]["harness"]["prompt"][2]["tool"]
    with network_blocked() as attempts:
        assert project.run("run", "suites/weather_agent.yaml").code == 0  # the new recording replays
    assert attempts == []


# ------------------------------------------------------------------ the commands of docs/agents.md


@dataclass
class Command:
    line: str
    shown: str  # the output the page shows under it


def _blocks() -> list[list[Command]]:
    blocks = []
    for body in re.findall(r"```console\n(.*?)```", DOC.read_text(), re.DOTALL):
        commands: list[Command] = []
        for line in body.splitlines():
            if line.startswith("$ "):
                commands.append(Command(line[2:], ""))
            else:
                commands[-1].shown += line + "\n"
        blocks.append(commands)
    return blocks


def _normal(text: str) -> str:
    """Timings differ between runs: the elapsed time, and the latency of a step recorded live."""
    text = re.sub(r" in \d+\.\d+s", " in N.NNs", text)
    text = re.sub(r" +\d[\d,]* ms\b", " N ms", text)
    return "\n".join(line.rstrip() for line in text.splitlines()).strip()


def test_the_page_has_its_examples() -> None:
    lines = [c.line for block in _blocks() for c in block]
    assert "harness run suites/weather_agent.yaml -v" in lines
    assert any("--record-mode new_episodes" in line for line in lines)


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_each_command_on_the_page_prints_what_it_shows(tmp_path: Path, index: int) -> None:
    """Each block runs from a fresh copy of the shipped suites, cassettes and scripts, with the
    installed harness, no key in the environment and 100 columns. A command ending in ``&`` (the
    loopback server) runs in the background on a free port, which then replaces the one shown."""
    for folder in SHIPPED:
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    env = {k: v for k, v in os.environ.items() if "KEY" not in k and not k.startswith(("OPENAI_", "AZURE_"))}
    env.update(COLUMNS="100", NO_COLOR="1", PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")
    background: list[subprocess.Popen[str]] = []
    shown_url, url = None, None
    try:
        for command in _blocks()[index]:
            line = command.line
            if url is not None and shown_url is not None:
                line = line.replace(shown_url, url)
            if line.endswith("&"):
                port = re.search(r"--port (\d+)", line)
                assert port, f"a background command names its port: {line}"
                shown_url = f"http://127.0.0.1:{port.group(1)}/v1"
                server = subprocess.Popen(["bash", "-c", "exec " + line[:-1].replace(port.group(0), "--port 0")],
                                          cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                          text=True, start_new_session=True)
                background.append(server)
                assert server.stdout is not None
                url = server.stdout.readline().strip()  # printed once the server listens
                assert url.startswith("http://127.0.0.1:"), url
                continue
            done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=120, check=False)
            assert "Traceback" not in done.stderr, done.stderr
            assert _normal(done.stdout) == _normal(command.shown), textwrap.indent(done.stdout, "    ")
    finally:
        for server in background:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)
