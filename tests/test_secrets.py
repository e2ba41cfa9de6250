"""No secret leaves the process in any form: terminal, reports, cassettes, .harness/, errors.

Servers here echo the caller's key the way leaky gateways do (in a 401 body, in a streamed answer;
raw, \\u-escaped, partly escaped, URL-encoded), through the OpenAI, Azure and compatible-gateway
paths. Every file of the project and everything printed is then scanned by ``leaks``, which
decodes JSON escapes, URL-encoding and HTML entities first, so no encoding can fool the test.
"""

from __future__ import annotations

import html
import json
import re
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
import yaml

from harness.testing.fake_echo import FORMS
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import AZURE_CANARY, CANARY, Project, RunResult, network_blocked

GATEWAY_CANARY = "gwcanary-2718281828459045235360"
QUERY_CANARY = "qcanary-1414213562373095048801"
REPORTS = ("json", "junit", "markdown", "html")

_JSON_U = re.compile(r"\\u([0-9a-fA-F]{4})")


def _decodings(text: str) -> set[str]:
    """``text`` with every mix of JSON escapes, URL-encoding and HTML entities undone."""
    def json_unescape(s: str) -> str:
        s = _JSON_U.sub(lambda m: chr(int(m.group(1), 16)), s).replace("\\/", "/")
        return s.encode("utf-16", "surrogatepass").decode("utf-16", "replace")

    decoders = (json_unescape, urllib.parse.unquote, urllib.parse.unquote_plus, html.unescape)
    views, frontier = {text}, {text}
    for _ in range(3):
        frontier = {d(v) for v in frontier for d in decoders} - views
        views |= frontier
    return views


def leaks(texts: dict[str, str], secrets: list[str]) -> list[str]:
    """Where any secret appears, in any encoding: ['<where>: <which secret>']."""
    return [f"{where}: {secret[:6]}..." for where, text in texts.items()
            for secret in secrets if any(secret in view for view in _decodings(text))]


def everything(project: Project, *runs: RunResult) -> dict[str, str]:
    """Every file under the project (cassettes, reports, .harness/) and all that was printed."""
    texts = {str(p.relative_to(project.root)): p.read_text(errors="replace")
             for p in project.root.rglob("*") if p.is_file()}
    for n, run in enumerate(runs):
        texts[f"stdout of run {n}"], texts[f"stderr of run {n}"] = run.out, run.err
    return texts


def test_the_scanner_sees_through_every_encoding() -> None:
    hidden = {"raw": f"x {CANARY} y",
              "escaped": "".join(f"\\u{ord(c):04X}" for c in CANARY),
              "url": urllib.parse.quote(CANARY, safe="").replace("-", "%2d"),
              "html": html.escape(CANARY).replace("s", "&#115;")}
    assert len(leaks(hidden, [CANARY])) == 4
    assert leaks({"clean": "<redacted> sk-canary"}, [CANARY]) == []


def _echo_cases() -> str:
    lines = ["cases:"]
    for form in FORMS:
        lines += [f"  - id: err-{form}", f"    prompt: echo-401-{form}",
                  f"  - id: sse-{form}", f"    prompt: echo-sse-{form}", "    stream: true",
                  f"  - id: json-{form}", f"    prompt: echo-json-{form}"]
    return "\n".join(lines) + "\n"


def _echo_rules(fake: FakeOpenAI) -> None:
    for form in FORMS:
        fake.add_rule(Rule(contains=f"echo-401-{form}", status=401, echo_key=form))
        for kind in ("sse", "json"):
            fake.add_rule(Rule(contains=f"echo-{kind}-{form}", content="your key is {api_key} - ok",
                               echo_key=form))


def _report_args(tag: str) -> list[str]:
    return [arg for fmt in REPORTS for arg in ("--report", f"{fmt}=reports/{tag}.{fmt}")]


PATHS = {
    "openai": ("model: gpt-4o\n", CANARY),
    "azure": ("provider: {type: azure, deployment: prod-gpt4o, api_version: '2024-10-21'}\nmodel: gpt-4o\n",
              AZURE_CANARY),
    "gateway": ("provider: {type: compatible, base_url: BASE, api_key_env: GW_CREDENTIAL}\nmodel: gpt-4o\n",
                GATEWAY_CANARY),
}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_an_echoed_key_reaches_no_output(project: Project, path: str) -> None:
    head, key = PATHS[path]
    with FakeOpenAI(require_key=key) as server:
        _echo_rules(server)
        project.suite("echo.yaml", head.replace("BASE", server.base_url) + _echo_cases())
        env = {"openai": {"OPENAI_API_KEY": key}, "gateway": {"GW_CREDENTIAL": key},
               "azure": {"AZURE_OPENAI_API_KEY": key, "AZURE_OPENAI_ENDPOINT": server.azure_endpoint}}[path]
        args = ["--base-url", server.base_url] if path == "openai" else []
        recorded = project.run("run", "suites", "--record-mode", "once", *args, *_report_args("record"),
                               env=env)
        assert recorded.code == 1, recorded.text  # the 401 cases are errors
        assert server.requests, "nothing was sent"
    report = json.loads((project.root / "reports" / "record.json").read_text())
    errors = {c["id"]: c["answer"]["error"] for c in report["cases"] if c["id"].startswith("err-")}
    assert len(errors) == len(FORMS) and all("<redacted>" in e for e in errors.values()), errors
    junit = ET.parse(project.root / "reports" / "record.junit")  # still well-formed XML
    assert any("Bearer <redacted>" in (e.get("message") or "") for e in junit.iter("error"))
    assert "Bearer &lt;redacted&gt;" in (project.root / "reports" / "record.html").read_text()
    for form in FORMS:  # the streamed answer is kept, with the key cut out of its events
        sse = yaml.safe_load((project.root / "cassettes" / "echo" / f"sse-{form}.yaml").read_text())
        assert sse["interactions"][0]["harness"]["answer"] == "your key is <redacted> - ok"
        assert '"content": "<redacted> "' in sse["interactions"][0]["response"]["body"]["string"]
    with network_blocked() as attempts:
        replayed = project.run("run", "suites", *_report_args("replay"), env=env)
    assert attempts == [] and "8 passed, 4 missing" in replayed.out, replayed.text  # errors are not kept
    assert leaks(everything(project, recorded, replayed), [key]) == []


def test_the_pytest_door_prints_no_echoed_key(pytester: pytest.Pytester, fake: FakeOpenAI,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makefile(".toml", pyproject="[project]\nname='demo'\n[tool.pytest.ini_options]\nharness_suites = ['suites']\n")
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "echo.yaml").write_text("model: gpt-4o\n" + _echo_cases())
    _echo_rules(fake)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    result = pytester.runpytest("suites", "--record-mode", "once", "--harness-base-url", fake.base_url,
                                "--junitxml", "junit.xml")
    result.assert_outcomes(passed=8, failed=4)
    output = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    output.update({str(p): p.read_text(errors="replace") for p in pytester.path.rglob("*") if p.is_file()})
    assert leaks(output, [CANARY]) == []
    assert "Bearer <redacted>" in output["stdout"]


SUITE = """
    model: gpt-4o
    cases:
      - id: hello
        prompt: Say hello to Ada.
"""


@pytest.mark.parametrize("where", ["cli", "suite", "azure"])
def test_base_url_query_credentials_are_sent_but_never_kept(project: Project, where: str) -> None:
    """Query parameters of a base URL are transport credentials: sent with every request, not
    part of the request's identity, never in a cassette, a report or the terminal."""
    name = {"cli": "api-key", "suite": "code", "azure": "sig"}[where]
    with FakeOpenAI(require_key=QUERY_CANARY if where == "cli" else None) as server:
        server.add_rule(Rule(contains="hello", content="hello Ada"))
        base, query = server.base_url, f"?{name}={QUERY_CANARY}&tenant=acme"
        head, args, env = "model: gpt-4o\n", ["--base-url", base + query], {}
        if where == "suite":
            head, args = f"provider: {{type: compatible, base_url: '{base}{query}'}}\nmodel: gpt-4o\n", []
        if where == "azure":
            head = "provider: {type: azure, deployment: dep, api_version: '2024-10-21'}\nmodel: gpt-4o\n"
            args, env = [], {"AZURE_OPENAI_ENDPOINT": server.azure_endpoint + query,
                             "AZURE_OPENAI_API_KEY": AZURE_CANARY}
        project.suite("hello.yaml", head + "cases:\n  - id: hello\n    prompt: Say hello to Ada.\n")
        recorded = project.run("run", "suites", "--record-mode", "once", *args,
                               "--report", "json=run.json", env=env)
        assert recorded.code == 0, recorded.text
        sent = server.requests[-1]
        assert sent.query[name] == QUERY_CANARY and sent.query["tenant"] == "acme"
        assert sent.path.endswith("/chat/completions") and "?" not in sent.path
        cassette = project.cassette_files()[0]
        uri = yaml.safe_load(cassette.read_text())["interactions"][0]["request"]["uri"]
        assert name not in uri and "tenant" not in uri and uri.startswith(server.azure_endpoint)
        if where != "azure":
            # the very same recording as one made without the query: re-recording changes nothing
            before = cassette.read_bytes()
            again = project.run("run", "suites", "--record-mode", "all", "--base-url", base,
                                env={"OPENAI_API_KEY": QUERY_CANARY})
            assert again.code == 0, again.text
            assert cassette.read_bytes() == before
    with network_blocked() as attempts:
        replayed = project.run("run", "suites")
    assert attempts == [] and replayed.code == 0, replayed.text
    outputs = {k: v for k, v in everything(project, recorded, replayed).items() if not k.startswith("suites")}
    assert leaks(outputs, [QUERY_CANARY]) == []


SECRET_IN_PROMPT = f"""
    model: gpt-4o
    cases:
      - id: greet
        prompt: "Use {{{{ token }}}} to log in."
        vars: {{token: "{CANARY}"}}
      - id: nested
        prompt: "Hello {{{{ user.name }}}}"
        vars: {{user: {{name: Ada, auth: ["{CANARY}"]}}}}
      - id: literal
        system: "The key is {CANARY}."
        prompt: Hi
      - id: from-file
        messages: [{{role: user, file: prompts/ask.j2}}]
      - id: body
        prompt: Hi
        extra_body: {{user: "{CANARY}"}}
      - id: clean
        prompt: Hello there.
"""


def test_a_secret_in_a_rendered_request_is_refused_before_sending(project: Project, fake: FakeOpenAI) -> None:
    project.suite("leaky.yaml", SECRET_IN_PROMPT)
    (project.root / "suites" / "prompts").mkdir()
    (project.root / "suites" / "prompts" / "ask.j2").write_text(f"My key: {CANARY}")
    result = project.record(fake, "suites")
    assert result.code == 2, result.text
    assert fake.requests == []  # refused while planning: nothing was sent
    lines = result.err.splitlines()
    expected = {
        "greet": "variable 'token' holds the value of a secret (OPENAI_API_KEY)",
        "literal": "the system message holds the value of a secret (OPENAI_API_KEY)",
        "from-file": "the template prompts/ask.j2 holds the value of a secret (OPENAI_API_KEY)",
        "body": "the request field 'user' holds the value of a secret (OPENAI_API_KEY)",
    }
    for case, message in expected.items():
        assert any(f"[case {case}]" in line and message in line for line in lines), (case, result.err)
    # a variable that is not sent is no reason to refuse; a clean case is not mentioned
    assert "[case nested]" not in result.err and "[case clean]" not in result.err
    assert "secrets must not be sent" in result.err
    printed = {k: v for k, v in everything(project, result).items() if not k.startswith("suites")}
    assert leaks(printed, [CANARY]) == []  # the suite holds the key (the user's mistake); no output does
    validated = project.run("validate", "suites", env={"OPENAI_API_KEY": CANARY})
    assert validated.code == 2 and "[case greet]: variable 'token'" in validated.err
    assert project.run("validate", "suites").code == 0  # the value is no secret without the key set
