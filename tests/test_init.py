"""`harness init`: a project that passes offline at once, through both doors; files that exist are
kept; the shipped cassette is what this version records; the workflow is one GitHub can run."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from harness import __version__
from harness.cli import build_parser
from harness.cli import main as harness_main
from harness.scaffold import template

from conftest import network_blocked

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ".github/workflows/harness.yml"
GITIGNORE_LINES = [".harness/", ".harness-tmp-*", ".harness-lock-*", "harness-reports/"]


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder, no key in the environment, the current folder elsewhere."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "new-project"
    return folder


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = harness_main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_init_then_run_passes_offline(empty: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = cli(capsys, "init", str(empty))
    assert code == 0, out
    for path in ("harness.yaml", "suites/example.yaml", "cassettes/example/capital.yaml", WORKFLOW, ".gitignore"):
        assert f"created     {path}" in out
        assert (empty / path).is_file()
    assert f"cd {empty}" in out and "harness run" in out
    monkeypatch.chdir(empty)
    with network_blocked() as attempts:
        code, out = cli(capsys, "run")
    assert attempts == []
    assert code == 0, out
    assert "PASS   │ capital" in out and "1 passed" in out
    assert cli(capsys, "validate")[0] == 0


def test_init_then_the_pytest_door_passes_offline(pytester: pytest.Pytester) -> None:
    assert harness_main(["init"]) == 0  # pytester's folder is the current one
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "suites/example.yaml::capital PASSED" in result.stdout.str()


def test_init_keeps_existing_files_and_never_repeats_a_gitignore_line(empty: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (empty / "suites").mkdir(parents=True)
    (empty / "suites" / "example.yaml").write_text("# mine\n")
    (empty / ".gitignore").write_text("node_modules/\n/.harness")  # no final newline; .harness as written
    code, out = cli(capsys, "init", str(empty))
    assert code == 0
    assert "kept        suites/example.yaml  (exists)" in out and "--force overwrites them" in out
    assert (empty / "suites" / "example.yaml").read_text() == "# mine\n"
    ignored = (empty / ".gitignore").read_text().splitlines()
    assert ignored[:3] == ["node_modules/", "/.harness", ""]
    assert [line for line in ignored if not line.startswith("#")][3:] == GITIGNORE_LINES[1:]

    before = {p: p.read_bytes() for p in empty.rglob("*") if p.is_file()}
    code, out = cli(capsys, "init", str(empty))  # twice: nothing changes
    assert code == 0
    assert "unchanged   .gitignore" in out and "created" not in out
    assert {p: p.read_bytes() for p in empty.rglob("*") if p.is_file()} == before

    code, out = cli(capsys, "init", str(empty), "--force")
    assert code == 0 and "overwritten suites/example.yaml" in out and "unchanged   harness.yaml" in out
    assert (empty / "suites" / "example.yaml").read_text() == template("example.yaml")
    assert (empty / ".gitignore").read_bytes() == before[empty / ".gitignore"]  # only ever appended to


def test_force_replaces_a_symlink_not_the_file_it_points_to(empty: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("precious\n")
    empty.mkdir()
    (empty / "harness.yaml").symlink_to(elsewhere)
    assert cli(capsys, "init", str(empty), "--force")[0] == 0
    assert elsewhere.read_text() == "precious\n"
    assert not (empty / "harness.yaml").is_symlink()


def test_init_leaves_pyproject_settings_where_they_are(empty: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    empty.mkdir()
    (empty / "pyproject.toml").write_text("[project]\nname = 'x'\n\n[tool.harness]\nsuites = ['suites']\n"
                                          "[tool.harness.defaults]\nmodel = 'gpt-5.1'\n")
    code, out = cli(capsys, "init", str(empty))
    assert code == 0 and "skipped     harness.yaml" in out and "pyproject.toml [tool.harness]" in out
    assert not (empty / "harness.yaml").exists()
    monkeypatch.chdir(empty)
    assert cli(capsys, "run")[0] == 0


def test_init_into_a_file_is_a_user_error(empty: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty.write_text("a file")
    code, out = cli(capsys, "init", str(empty))
    assert code == 2 and "exists and is not a folder" in out and "Traceback" not in out


def _record_scaffold() -> ModuleType:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import record_scaffold  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return record_scaffold  # type: ignore[no-any-return]


def _volatile(text: str) -> str:
    """What changes between two recordings of the same exchange: the loopback port, the timing."""
    text = re.sub(r"http://127\.0\.0\.1:\d+/", "http://127.0.0.1:PORT/", text)
    return re.sub(r"(latency_ms|ttft_ms): \d+", r"\1: N", text)


def test_the_shipped_cassette_is_what_this_version_records(tmp_path: Path) -> None:
    """Recorded again, exactly as scripts/record_scaffold.py made it: a change of the cassette
    format shows up here (run that script to ship the new recording)."""
    script = _record_scaffold()
    fresh = script.record(tmp_path / "project").read_text()
    assert _volatile(fresh) == _volatile(script.SHIPPED.read_text()), \
        "the scaffold's cassette is out of date: python scripts/record_scaffold.py"


# -- the workflow --------------------------------------------------------------------------------------

REAL_ACTIONS = {"actions/checkout@v4", "actions/setup-python@v5", "actions/upload-artifact@v4"}


@pytest.fixture(scope="module")
def workflow() -> dict[object, object]:
    doc = yaml.safe_load(template("workflow.yml"))
    assert isinstance(doc, dict)
    return doc


def _steps(workflow: dict[object, object], job: str) -> list[dict[str, object]]:
    return workflow["jobs"][job]["steps"]  # type: ignore[index, no-any-return]


def _commands(step: dict[str, object]) -> Iterator[str]:
    for line in str(step.get("run", "")).splitlines():
        line = line.split(" || ")[0].strip()
        if line:
            yield line


def test_the_workflow_runs_on_pull_requests_and_by_hand(workflow: dict[object, object]) -> None:
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert isinstance(triggers, dict) and set(triggers) == {"pull_request", "workflow_dispatch"}
    jobs = workflow["jobs"]
    assert isinstance(jobs, dict)
    assert jobs["replay"]["if"] == "github.event_name == 'pull_request'"
    assert jobs["rerecord"]["if"] == "github.event_name == 'workflow_dispatch'"
    assert workflow["permissions"] == {"contents": "read"}  # only the manual job may push
    assert jobs["rerecord"]["permissions"] == {"contents": "write", "pull-requests": "write"}


def test_the_workflow_uses_only_real_actions_and_commands(workflow: dict[object, object]) -> None:
    parser = build_parser()
    modes = workflow.get("on", workflow.get(True))["workflow_dispatch"]["inputs"]["record_mode"]["options"]  # type: ignore[index]
    harness_lines = []
    for job in ("replay", "rerecord"):
        for step in _steps(workflow, job):
            if "uses" in step:
                assert step["uses"] in REAL_ACTIONS
            for command in _commands(step):
                if command.startswith("pip install"):  # this distribution, at the version that wrote it
                    assert re.fullmatch(rf'pip install "prompt-harness=={re.escape(__version__)}"(\s+#.*)?', command)
                if command.startswith("harness "):
                    harness_lines.append(command)
                    for mode in modes:  # every choice of the manual job's input parses
                        args = parser.parse_args(shlex.split(command.replace("$MODE", mode))[1:])
                        assert args.command == "run" and not args.paths  # the project's suites
    assert len(harness_lines) == 2


def test_replay_writes_the_markdown_summary_and_uploads_junit(workflow: dict[object, object]) -> None:
    (replay,) = [" ".join(_commands(s)) for s in _steps(workflow, "replay") if "harness run" in str(s.get("run"))]
    args = build_parser().parse_args(shlex.split(replay.split("&& ")[-1].split("harness ", 1)[1]))
    reports = dict(spec.split("=", 1) for spec in args.report)
    assert set(reports) == {"markdown", "junit"} and args.record_mode == "none"
    upload = next(s for s in _steps(workflow, "replay") if s.get("uses") == "actions/upload-artifact@v4")
    assert upload["with"]["path"] == reports["junit"]  # type: ignore[index]
    assert upload["if"] == "always()"
    assert reports["junit"].split("/")[0] + "/" in GITIGNORE_LINES  # reports never get committed


def test_rerecord_takes_the_key_from_secrets_and_opens_a_pull_request(workflow: dict[object, object]) -> None:
    steps = _steps(workflow, "rerecord")
    record = next(s for s in steps if "harness run" in str(s.get("run")))
    assert record["env"]["OPENAI_API_KEY"] == "${{ secrets.OPENAI_API_KEY }}"  # type: ignore[index]
    assert "OPENAI_API_KEY" not in str(steps[-1])  # the key reaches the recording step only
    script = str(steps[-1]["run"])
    assert "git push" in script and "gh pr create" in script and "${{" not in script  # inputs via env only
    replay_env = next(s for s in _steps(workflow, "replay") if "harness run" in str(s.get("run")))["env"]
    assert replay_env == {"OPENAI_API_KEY": ""}


def test_the_workflow_shell_scripts_parse(workflow: dict[object, object], tmp_path: Path) -> None:
    for job in ("replay", "rerecord"):
        for step in _steps(workflow, job):
            if "run" in step:
                done = subprocess.run(["bash", "-n"], input=str(step["run"]), text=True, capture_output=True,
                                      check=False)
                assert done.returncode == 0, (step.get("name"), done.stderr)


def test_the_docs_tell_of_the_workflow_init_writes() -> None:
    docs = (ROOT / "docs" / "github-actions.md").read_text()
    assert "harness init" in docs and WORKFLOW in docs
