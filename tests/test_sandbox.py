"""A suite reads and writes only inside its project, and its templates are bounded.

Each attack is written as a pull request could write it (symlinks, FIFOs, outside paths, template
bombs) and run through the CLI in-process: `harness validate` and `harness run` must refuse it with
exit 2 and one line naming file, line and case, without reading or writing anything outside the
project, without hanging and without exhausting memory.
"""

from __future__ import annotations

import base64
import os
import resource
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness import template_limits
from harness.errors import UserError
from harness.render import Renderer
from harness.testing.fake_openai import FakeOpenAI

from conftest import Project

SECRET = "OUTSIDE-SECRET-4f1e"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


@pytest.fixture
def outside(project: Project) -> Path:
    """A folder beside the project holding files a suite must never read or write."""
    folder = project.root.parent / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text(f"root:x:0:0:{SECRET}\n")
    (folder / "secret.json").write_text(f'{{"type": "{SECRET}"}}')
    (folder / "secret.png").write_bytes(PNG + SECRET.encode())
    return folder


def refused(result, where: str, message: str) -> None:
    """Exit 2, exactly one error line naming ``where`` and saying ``message``, no traceback."""
    assert result.code == 2, result.text
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"error: suites/{where}: "), result.err
    assert message in lines[0], result.err
    assert "Traceback" not in result.text and SECRET not in result.text


def nothing_leaked(project: Project, outside: Path) -> None:
    """No file of the project holds the secret (links planted by the test are not followed)."""
    for path in project.root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert SECRET not in path.read_text(errors="replace"), path
    assert sorted(p.name for p in outside.iterdir()) == ["secret.json", "secret.png", "secret.txt"]


def both_doors(project: Project, *paths: str) -> list:
    return [project.run("validate", *paths), project.run("run", *paths)]


# ---------------------------------------------------------------- files a suite names

def test_symlinked_include_is_refused(project: Project, outside: Path) -> None:
    os.symlink(outside / "secret.txt", project.root / "suites" / "link")
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: a\n    prompt: \"{% include 'link' %}\"\n")
    for result in both_doors(project, "suites/s.yaml"):
        refused(result, "s.yaml:4 [case a]", "template file 'link' is outside the suite's folder")
    nothing_leaked(project, outside)


def test_symlinked_message_file_is_refused(project: Project, outside: Path) -> None:
    os.symlink(outside / "secret.txt", project.root / "suites" / "prompt.j2")
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: a\n    messages:\n"
                            "      - role: user\n        file: prompt.j2\n")
    for result in both_doors(project, "suites/s.yaml"):
        refused(result, "s.yaml:5 [case a]", "template file 'prompt.j2' is outside the suite's folder")
    nothing_leaked(project, outside)


def test_symlinked_image_is_refused(project: Project, outside: Path) -> None:
    (project.root / "suites" / "img").mkdir()
    os.symlink(outside / "secret.png", project.root / "suites" / "img" / "x.png")
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: a\n    messages:\n      - role: user\n"
                            "        content:\n          - type: image_url\n"
                            "            image_url: {file: img/x.png}\n")
    for result in both_doors(project, "suites/s.yaml"):
        refused(result, "s.yaml:5 [case a]", "image file 'img/x.png' is outside the suite's folder")
    nothing_leaked(project, outside)


@contextmanager
def fifo_watchdog(path: Path, seconds: float = 20.0) -> Iterator[None]:
    """Make a FIFO; if a reader still blocks on it after ``seconds``, open its other end so the
    test fails on its assertions instead of hanging the session."""
    os.mkfifo(path)
    done = threading.Event()

    def unblock() -> None:
        if not done.wait(seconds):
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass

    thread = threading.Thread(target=unblock, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def test_fifo_as_schema_file_does_not_hang(project: Project) -> None:
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n    checks:\n"
                            "      - json-schema: {file: schema.json}\n")
    start = time.monotonic()
    with fifo_watchdog(project.root / "suites" / "schema.json"):
        results = both_doors(project, "suites/s.yaml")
    assert time.monotonic() - start < 15
    for result in results:
        refused(result, "s.yaml:6 [case a]", "schema file 'schema.json' is a FIFO, socket or device")


def test_fifo_as_include_does_not_hang(project: Project) -> None:
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: a\n    prompt: \"{% include 'pipe' %}\"\n")
    start = time.monotonic()
    with fifo_watchdog(project.root / "suites" / "pipe"):
        results = both_doors(project, "suites/s.yaml")
    assert time.monotonic() - start < 15
    for result in results:
        refused(result, "s.yaml:4 [case a]", "template file 'pipe' is a FIFO, socket or device")


@pytest.mark.parametrize("kind", ["absolute", "relative"])
def test_schema_file_outside_the_suite_is_refused_without_its_content(
        project: Project, outside: Path, kind: str) -> None:
    name = str(outside / "secret.json") if kind == "absolute" else "../../outside/secret.json"
    project.suite("s.yaml", f"model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n    checks:\n"
                            f"      - json-schema: {{file: {name}}}\n")
    for result in both_doors(project, "suites/s.yaml"):
        refused(result, "s.yaml:6 [case a]", f"schema file {name!r} is outside the suite's folder")
    nothing_leaked(project, outside)


def test_invalid_schema_file_errors_name_the_file_not_its_content(project: Project) -> None:
    (project.root / "suites" / "bad.json").write_text(f'{{"type": "{SECRET}"}}')
    (project.root / "suites" / "bad.yaml.schema.yaml").write_text(f"type: [\n  {SECRET}: x: y\n")
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n    checks:\n"
                            "      - json-schema: {file: bad.json}\n"
                            "  - id: b\n    prompt: hi\n    checks:\n"
                            "      - json-schema: {file: bad.yaml.schema.yaml}\n")
    result = project.run("validate", "suites/s.yaml")
    assert result.code == 2
    assert "schema file 'bad.json' is not a valid JSON Schema: $.type breaks" in result.err
    assert "schema file 'bad.yaml.schema.yaml' does not parse as YAML (line 2" in result.err
    assert SECRET not in result.text


def test_python_check_module_outside_the_project_is_refused(project: Project, outside: Path) -> None:
    (outside / "evilcheck.py").write_text("def ok(output, case):\n    return True\n")
    os.symlink(outside / "evilcheck.py", project.root / "suites" / "evilcheck.py")
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n    checks:\n"
                            "      - python: evilcheck:ok\n"
                            "  - id: b\n    prompt: hi\n    checks:\n      - python: os.path:exists\n")
    result = project.run("validate", "suites/s.yaml")
    assert result.code == 2
    assert "suites/s.yaml:6 [case a]: check 'python': module 'evilcheck'" in result.err
    assert "suites/s.yaml:10 [case b]: check 'python': module 'os.path'" in result.err
    assert "is not a file inside the project" in result.err
    assert "evilcheck" not in sys.modules


def test_suite_file_linked_from_outside_the_project_is_refused(project: Project, outside: Path) -> None:
    (outside / "s.yaml").write_text(f"model: gpt-4o\ncases:\n  - id: a\n    prompt: {SECRET}\n")
    os.symlink(outside / "s.yaml", project.root / "suites" / "s.yaml")
    result = project.run("validate", "suites/s.yaml")
    assert result.code == 2 and "the suite file is a symlink to outside its project" in result.err
    assert SECRET not in result.text


# ---------------------------------------------------------------- where cassettes go

@pytest.mark.parametrize("cassette_dir, message", [
    ("ABSOLUTE", "must be a path relative to the suite file"),
    ("../../outside", "cassette folder '../../outside' is outside the project"),
])
def test_cassette_dir_stays_inside_the_project(project: Project, outside: Path, fake: FakeOpenAI,
                                               cassette_dir: str, message: str) -> None:
    value = str(outside) if cassette_dir == "ABSOLUTE" else cassette_dir
    project.suite("s.yaml", f"model: gpt-4o\ncassette_dir: {value}\ncases:\n  - id: a\n    prompt: hi\n")
    refused(project.run("validate", "suites/s.yaml"), "s.yaml:2", message)
    refused(project.record(fake, "suites/s.yaml"), "s.yaml:2", message)
    assert fake.requests == []
    nothing_leaked(project, outside)


def test_symlinked_cassettes_folder_is_refused(project: Project, outside: Path, fake: FakeOpenAI) -> None:
    os.rmdir(project.root / "cassettes")
    os.symlink(outside, project.root / "cassettes")
    project.suite("s.yaml", "model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n")
    refused(project.record(fake, "suites/s.yaml"), "s.yaml:1", "cassette folder 'cassettes' is outside")
    nothing_leaked(project, outside)


@pytest.mark.parametrize("file_name", ["...yaml", "_x.yaml", "-.yaml"])
def test_file_names_that_give_no_valid_suite_name(project: Project, fake: FakeOpenAI,
                                                  file_name: str) -> None:
    project.suite(file_name, "model: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n")
    message = f"the file name {file_name!r} gives no valid suite name"
    refused(project.run("validate", f"suites/{file_name}"), f"{file_name}:1", message)
    refused(project.record(fake, f"suites/{file_name}"), f"{file_name}:1", message)
    assert sorted(p.name for p in project.root.iterdir()) == ["cassettes", "pyproject.toml", "suites"]
    assert project.cassette_files() == []


def test_a_name_key_rescues_an_odd_file_name(project: Project, fake: FakeOpenAI) -> None:
    project.suite("...yaml", "name: dots\nmodel: gpt-4o\ncases:\n  - id: a\n    prompt: hi\n")
    assert project.record(fake, "suites/...yaml").code == 0
    assert [p.relative_to(project.root).as_posix() for p in project.cassette_files()] == \
        ["cassettes/dots/a.yaml"]


@pytest.mark.parametrize("bomb", ["nested", "long text"])
def test_yaml_alias_bomb_is_refused(project: Project, bomb: str) -> None:
    lines = ["model: gpt-4o", "cases:", "  - id: a", "    prompt: hi", "    vars:"]
    if bomb == "nested":  # 10**9 values written in ten lines
        lines.append("      l0: &l0 [x, x, x, x, x, x, x, x, x, x]")
        lines += [f"      l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]
    else:  # a 200 kB text named 1,000 times
        lines.append(f"      t: &l8 {'x' * 200_000}")
        lines.append(f"      many: [{', '.join(['*l8'] * 1000)}]")
    lines.append("    extra_body: {bomb: *l8}")
    project.suite("s.yaml", "\n".join(lines) + "\n")
    start = time.monotonic()
    refused(project.run("validate", "suites/s.yaml"), "s.yaml",
            "YAML anchors and aliases expand this file by more than 10,000,000 values")
    assert time.monotonic() - start < 20


def test_ordinary_yaml_anchors_still_work(project: Project) -> None:
    project.suite("s.yaml", "model: gpt-4o\nvars: &common {who: you, doc: some text}\ncases:\n"
                            "  - id: a\n    prompt: '{{ who }}'\n    vars: *common\n"
                            "  - id: b\n    prompt: '{{ doc }}'\n    vars: *common\n")
    assert project.run("validate", "suites/s.yaml").code == 0


# ---------------------------------------------------------------- bounded templates

@pytest.fixture
def quick_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The time limit at 0.5 s instead of the default, so the tests that reach it stay quick."""
    monkeypatch.setattr(template_limits, "RENDER_SECONDS", 0.5)


BOMBS = {
    "nested loops": ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                     "rendering took longer than 0.5 s"),
    "exponential macro": (("{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}"
                           "{{ f(60) }}"), "rendering took longer than 0.5 s"),
    "huge template": ("{{ 1 }}" * 100_000, "the template has more than 5,000 tags"),
    "huge tag": ("{{ [" + "1," * 30_000 + "] }}", "or 50,000 characters of template syntax"),
    "big power": ("{{ 10 ** (10 ** 10) }}", "a power above 65,536 bits"),
    "big product": ("{{ (10 ** 15000) * (10 ** 15000) }}", "a product above 65,536 bits"),
    "format width": ("{{ '{:>2000000000}'.format('') }}", "width or precision 2000000000 is above"),
    "nested format width": ("{{ '{:{}}'.format('', 2000000000) }}", "is above the limit of 10,000"),
    "format_map": ("{{ '{x:.2000000000f}'.format_map({'x': 1.5}) }}", "is above the limit"),
    "percent width": ("{{ '%2000000000s' % '' }}", "the width 2,000,000,000 is above"),
    "format filter": ("{{ '%.2000000000f'|format(1.5) }}", "the precision 2,000,000,000 is above"),
    "center": ("{{ ''|center(2000000000) }}", "the width 2,000,000,000 is above"),
    "ljust": ("{{ ''.ljust(2000000000) }}", "the width 2,000,000,000 is above"),
    "indent": ("{{ 'a'|indent(2000000000, true) }}", "the indent 2,000,000,000 is above"),
    "wordwrap": ("{{ ('x' * 3000000)|wordwrap(1, wrapstring='--') }}", "wrapping would make"),
    "slow wordwrap": ("{{ ('x' * 1000000)|wordwrap(1)|length }}", "rendering took longer than 0.5 s"),
    "text repetition": ("{{ ('x' * 10 ** 9)|length }}", "1,000,000,000 characters long"),
    "list repetition": ("{{ ([0] * 10 ** 9)|length }}", "would hold 1,000,000,000 items"),
    "namespace doubling": (("{% set ns = namespace(x='a') %}{% for i in range(40) %}"
                            "{% set ns.x = ns.x ~ ns.x %}{% endfor %}{{ ns.x|length }}"),
                           "characters long; the limit is 4,000,000"),
    "list doubling": (("{% set ns = namespace(x=[1]) %}{% for i in range(40) %}"
                       "{% set ns.x = ns.x + ns.x %}{% endfor %}"), "items; the limit is 1,000,000"),
    "extend in place": ("{% set l = [1] %}{% for i in range(40) %}{% set _ = l.extend(l) %}{% endfor %}",
                        "items; the limit is 1,000,000"),
    "shared references": (("{% set ns = namespace(x=['a' * 1000]) %}{% for i in range(60) %}"
                           "{% set ns.x = [ns.x, ns.x] %}{% endfor %}{{ ns.x }}"), "characters long"),
    "join": ("{{ ([('x' * 100000)] * 100000)|join }}", "characters long"),
    "replace": ("{{ ('x' * 1000000).replace('x', 'yyyyyyyy') }}", "characters long"),
    "sum of lists": ("{{ ([[0] * 1000] * 100000)|sum(start=[]) }}", "a sum would hold"),
    "printed loop": ("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
                     "the rendered text is longer than 4,000,000 characters"),
    "block capture": ("{% set b %}{% for i in range(5000) %}{{ 'x' * 1000 }}{% endfor %}{% endset %}",
                      "the rendered text is longer than"),
    "capture of a long text": (("{% set t = 'x' * 3000000 %}{% set b %}{% for i in range(100000) %}"
                                "{{ t }}{% endfor %}{% endset %}"), "the rendered text is longer than"),
    "lipsum": ("{{ lipsum(1) }}", "the function 'lipsum' is not available: its output changes"),
    "random": ("{{ [1, 2]|random }}", "the filter 'random' is not available"),
    "lipsum printed": ("{{ lipsum }}", "may print only plain values"),
    "function": ("{{ range }}", "may print only plain values"),
    "method": ("{{ dict.items }}", "may print only plain values"),
    "bound method as text": ("{{ 'x'.upper|string }}", "may print only plain values"),
    "object joined": ("{{ 'a' ~ cycler(1) }}", "not a Cycler object"),
    "generator": ("{{ [1]|map('string') }}", "not a generator object"),
}


@pytest.mark.usefixtures("quick_deadline")
@pytest.mark.parametrize("name", list(BOMBS))
def test_template_bombs_are_refused(project: Project, name: str) -> None:
    template, message = BOMBS[name]
    quoted = template.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    project.suite("b.yaml", f"model: gpt-4o\ncases:\n  - id: a\n    prompt: \"{quoted}\"\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    for result in both_doors(project, "suites/b.yaml"):
        refused(result, "b.yaml:4 [case a]", message)
    assert time.monotonic() - start < 20
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024  # KiB on Linux
    assert grown_mb < 400
    assert project.cassette_files() == []


def test_values_kept_by_a_loop_are_bounded_in_memory(project: Project,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Each value is within the limits, but a loop keeps a thousand of them (3 GB in all)."""
    monkeypatch.setattr(template_limits, "RENDER_SECONDS", 60.0)  # the memory guard must stop it
    project.suite("b.yaml", "model: gpt-4o\ncases:\n  - id: a\n    prompt: \"{% set ns = namespace(l=[]) %}"
                            "{% for i in range(1000) %}{% set ns.l = ns.l + [('x' * 3000000) ~ i] %}"
                            "{% endfor %}\"\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    refused(project.run("validate", "suites/b.yaml"), "b.yaml:4 [case a]",
            "the template holds more than 256 MB of values")
    assert time.monotonic() - start < 20
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024 < 512


def test_time_limit_is_per_case_across_its_messages(project: Project,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(template_limits, "RENDER_SECONDS", 1.0)
    loop = "{% for i in range(2000) %}{% for j in range(20) %}{% endfor %}{% endfor %}"
    message = f"      - role: user\n        content: \"{loop}\"\n"
    project.suite("one.yaml", f"model: gpt-4o\ncases:\n  - id: a\n    messages:\n{message}")
    assert project.run("validate", "suites/one.yaml").code == 0  # one message: well in time
    project.suite("many.yaml", f"model: gpt-4o\ncases:\n  - id: a\n    messages:\n{message * 300}")
    result = project.run("validate", "suites/many.yaml")
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1
    assert "[case a]: template refused in user message: rendering took longer than 1 s " \
        "(the limit per case)" in result.err


def test_deadline_works_outside_the_main_thread(tmp_path: Path, quick_deadline: None) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text("cases: []\n")
    errors: list[BaseException] = []

    def render() -> None:
        try:
            Renderer(suite).render_string("{% for i in range(100000) %}{% for j in range(100000) %}"
                                          "{% endfor %}{% endfor %}", {}, line=3, case="a")
        except UserError as exc:
            errors.append(exc)

    thread = threading.Thread(target=render)
    thread.start()
    thread.join(20)
    assert not thread.is_alive()
    assert len(errors) == 1 and "rendering took longer than 0.5 s" in str(errors[0])


def test_a_tracer_in_place_is_restored_after_filters(tmp_path: Path) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text("cases: []\n")

    def tracer(frame, event, arg):
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        out = Renderer(suite).render_string("{{ x|upper|wordwrap(3) }}", {"x": "ab cd"}, line=1,
                                            case="a")
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(previous)
    assert out == "AB\nCD"


# ---------------------------------------------------------------- what still works

def test_ordinary_files_and_a_large_document_still_render(project: Project, fake: FakeOpenAI) -> None:
    suites = project.root / "suites"
    (suites / "parts").mkdir()
    (suites / "parts" / "rules.j2").write_text("Rules for {{ who }}.")
    (suites / "ask.j2").write_text("{% include 'parts/rules.j2' %} Read: {{ doc }}")
    (suites / "pic.png").write_bytes(PNG)
    (suites / "person.json").write_text('{"type": "object"}')
    doc = "lorem ipsum " * 87_382  # ~1 MB
    project.suite("ok.yaml", f"""
        model: local-model
        vars: {{who: testers, doc: "{doc}"}}
        cases:
          - id: a
            messages:
              - role: system
                content: "{{% include 'parts/rules.j2' %}} {{{{ '%-8s|' % 'x' }}}}{{{{ '{{:>6}}'.format(7) }}}}"
              - role: user
                file: ask.j2
              - role: user
                content:
                  - {{type: text, text: "{{{{ [1, 2.5, none]|tojson }}}} {{{{ doc|length }}}}"}}
                  - type: image_url
                    image_url: {{file: pic.png}}
            checks:
              - json-schema: {{file: person.json}}
    """)
    assert project.run("validate", "suites/ok.yaml").code == 0
    result = project.record(fake, "suites/ok.yaml")
    assert result.code in (0, 1), result.text  # the echo answer is not JSON: the check may fail
    messages = fake.requests[0].json["messages"]
    assert messages[0]["content"] == "Rules for testers. x       |     7"
    assert messages[1]["content"] == f"Rules for testers. Read: {doc}"
    assert messages[2]["content"][0]["text"] == f"[1, 2.5, null] {len(doc)}"
    assert messages[2]["content"][1]["image_url"]["url"] == \
        "data:image/png;base64," + base64.b64encode(PNG).decode()
