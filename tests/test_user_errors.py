"""Every mistake a user can make ends in one clear line naming file, line and case; exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import Project

GOOD_HEAD = "model: gpt-4o\n"


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("model: gpt-4o\ncases:\n  - id: a\n    prompt: [unclosed\n", "bad.yaml:5", "YAML syntax error"),
        ("model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n    tempreature: 1\n",
         "bad.yaml:5 [case a]", "did you mean 'temperature'"),
        ("model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n  - id: a\n    prompt: ho\n",
         "bad.yaml:5 [case a]", "duplicate case id 'a'"),
        ("model: gpt-4o\ncases:\n  - id: a\n    prompt: 'Hi {{ nmae }}'\n    vars: {name: x}\n",
         "bad.yaml:4 [case a]", "undefined variable in user message: 'nmae' is undefined"),
        ("model: gpt-4o\ncases:\n  - id: a\n    prompt: 'Hi {% if %}'\n",
         "bad.yaml:4 [case a]", "template syntax error"),
        ("model: gpt-4o\ncases:\n  - id: a\n    prompt: \"{{ ''.__class__.__mro__[1].__subclasses__() }}\"\n",
         "bad.yaml:4 [case a]", "blocked by the sandbox"),
        ("model: gpt-4o\ncases:\n  - id: a\n    prompt: \"{% include '../../etc/passwd' %}\"\n",
         "bad.yaml:4 [case a]", "not found inside the suite folder"),
        ("model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n    checks:\n      - containz: x\n",
         "bad.yaml:6 [case a]", "unknown check 'containz'; did you mean contains"),
        ("model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n    checks:\n      - regex: '(unclosed'\n",
         "bad.yaml:6 [case a]", "invalid regular expression"),
        ("cases:\n  - id: a\n    prompt: hi\n", "bad.yaml:2 [case a]", "no model"),
        ("model: gpt-4o\ncases:\n  - id: a\n    messages:\n      - role: user\n        file: nope.j2\n",
         "bad.yaml:5 [case a]", "template file 'nope.j2' not found"),
        ("model: gpt-4o\ncases:\n  - id: a\n    messages:\n      - role: user\n        content:\n"
         "          - type: image_url\n            image_url: {file: missing.png}\n",
         "bad.yaml:5 [case a]", "image file 'missing.png' not found"),
        ("- just a list\n", "bad.yaml:1", "a suite must be a YAML mapping"),
    ],
)
def test_user_error_names_file_line_case(project: Project, text: str, where: str, message: str) -> None:
    project.suite("bad.yaml", text)
    result = project.run("run", "suites/bad.yaml")
    assert result.code == 2, result.text
    assert f"suites/{where}: " in result.err
    assert message in result.err
    assert "Traceback" not in result.text


def test_errors_in_several_cases_are_all_reported(project: Project) -> None:
    project.suite("bad.yaml", "model: gpt-4o\ncases:\n  - id: a\n    prompt: '{{ x }}'\n"
                              "  - id: b\n    prompt: '{{ y }}'\n")
    result = project.run("validate", "suites")
    assert result.code == 2
    assert "[case a]" in result.err and "[case b]" in result.err


def test_template_file_error_names_the_template_line(project: Project) -> None:
    (project.root / "suites" / "prompts").mkdir(parents=True)
    (project.root / "suites" / "prompts" / "ask.j2").write_text("line one\nline two {{ missing }}\n")
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: a\n    messages:\n      - role: user\n"
                            "        file: prompts/ask.j2\n")
    result = project.run("run", "suites")
    assert result.code == 2
    assert "suites/prompts/ask.j2:2 [case a]: undefined variable" in result.err


def test_validate_accepts_a_good_suite(project: Project) -> None:
    project.suite("ok.yaml", "model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n")
    result = project.run("validate", "suites")
    assert result.code == 0 and "1 case(s): valid" in result.out


def test_missing_path_and_bad_options_exit_2(project: Project) -> None:
    assert project.run("run", "nowhere.yaml").code == 2
    cli = [sys.executable, "-m", "harness.cli", "run", "--record-mode", "sometimes"]
    done = subprocess.run(cli, capture_output=True, text=True, cwd=project.root, check=False)
    assert done.returncode == 2 and "invalid choice" in done.stderr and "Traceback" not in done.stderr


def test_recording_against_openai_without_a_key_is_a_user_error(project: Project) -> None:
    project.suite("ok.yaml", "model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n")
    result = project.run("run", "suites", "--record-mode", "once")
    assert result.code == 1
    assert "set OPENAI_API_KEY to record" in result.out
