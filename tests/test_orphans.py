"""Cassettes no case owns: a replay names them, --fail-on orphans fails on them, harness prune
removes them (a dry run unless --yes), and nothing that is not a cassette is ever touched."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from harness.cassettes.files import LOCK_PREFIX, temp_name
from harness.testing.fake_openai import FakeOpenAI

from conftest import Project, network_blocked

# Six matrix values of 40 characters: an id too long for a file name, so its cassette's is shortened.
LONG = "".join(f"\n      v{i}: [{chr(97 + i) * 40}]" for i in range(6))
SUITE = f"""
name: s
model: gpt-4o
cases:
  - id: greet
    prompt: Say hello.
  - id: topics
    prompt: "Define {{{{ topic }}}}."
    matrix:
      topic: [consistency, availability]
  - id: sampled
    prompt: Pick a number.
    samples: 3
  - id: long
    prompt: A case with a very long id.
    matrix:{LONG}
"""


def recorded(project: Project, fake: FakeOpenAI) -> Path:
    suite = project.suite("s.yaml", SUITE)
    assert project.record(fake, "suites").code == 0
    fake.stop()
    return suite


def folder(project: Project) -> Path:
    return project.root / "cassettes" / "s"


def test_a_whole_replay_names_no_orphan_when_every_cassette_is_owned(project: Project, fake: FakeOpenAI) -> None:
    recorded(project, fake)
    assert any("~" in p.name for p in folder(project).iterdir())  # a shortened name, owned all the same
    with network_blocked():
        result = project.run("run", "suites", "--fail-on", "orphans", "--report", "json=r.json")
    assert result.code == 0, result.text
    assert "no case owns" not in result.out
    assert "gate met: no cassette without a case in the 1 suite(s) run whole" in result.out
    assert "orphans" not in json.loads((project.root / "r.json").read_text())


def test_renamed_case_removed_matrix_value_and_fewer_samples_leave_orphans(project: Project, fake: FakeOpenAI) -> None:
    suite = recorded(project, fake)
    text = suite.read_text().replace("id: greet", "id: hello").replace("[consistency, availability]", "[consistency]")
    suite.write_text(text.replace("samples: 3", "samples: 2"))
    shutil.copy(folder(project) / "greet.yaml", folder(project) / "hello.yaml")  # as recorded under its new name
    with network_blocked():
        result = project.run("run", "suites", "--report", "json=r.json")
    assert result.code == 0, result.text  # orphans alone do not fail a run...
    out = " ".join(result.out.split())
    assert ("3 cassette(s) no case owns: cassettes/s/greet.yaml, cassettes/s/sampled#2.yaml, "
            "cassettes/s/topics[availability].yaml; run `harness prune suites/s.yaml` to delete them") in out
    doc = json.loads((project.root / "r.json").read_text())
    assert doc["orphans"] == [{"path": f"cassettes/s/{name}", "suites": ["suites/s.yaml"]}
                              for name in ("greet.yaml", "sampled#2.yaml", "topics[availability].yaml")]
    strict = project.run("run", "suites", "--fail-on", "orphans")  # ...unless CI asks
    assert strict.code == 1
    assert "gate failed: 3 cassette(s) no case owns: cassettes/s/greet.yaml" in " ".join(strict.out.split())
    assert project.run("run", "suites", "--fail-on", "failed,orphans").code == 1


def test_a_partial_run_names_no_orphan(project: Project, fake: FakeOpenAI) -> None:
    suite = recorded(project, fake)
    suite.write_text(suite.read_text().replace("id: greet", "id: hello"))
    shutil.copy(folder(project) / "greet.yaml", folder(project) / "hello.yaml")
    for selection in (["-k", "topics"], ["suites/s.yaml::topics"]):
        result = project.run("run", *(["suites"] if selection[0] == "-k" else []), *selection,
                             "--fail-on", "orphans")
        assert result.code == 0, result.text
        assert "no case owns" not in result.out
        assert "orphan cassettes not checked: no suite was run whole" in result.out
    # Overriding the samples runs the suite other than its file says: not checked either.
    assert "no case owns" not in project.run("run", "suites", "--samples", "1").out
    assert "1 cassette(s) no case owns" in project.run("run", "suites").out


def test_prune_dry_run_then_yes_deletes_only_orphan_cassettes(project: Project, fake: FakeOpenAI) -> None:
    suite = recorded(project, fake)
    suite.write_text(suite.read_text().replace("samples: 3", "samples: 1"))
    here = folder(project)
    # Things that are not cassettes of this suite: harness's own lock and temp files, a note, a
    # YAML file that is not a cassette, a symlink to a cassette outside the folder, a sub-folder.
    outside = project.root / "elsewhere.yaml"
    shutil.copy(here / "greet.yaml", outside)
    keep = {LOCK_PREFIX + "0123456789abcdef": "", temp_name(os.getpid()): "partial", "NOTES.md": "notes",
            "notes.yaml": "just: data\n"}
    for name, text in keep.items():
        (here / name).write_text(text)
    (here / "link.yaml").symlink_to(outside)
    (here / "sub").mkdir()
    shutil.copy(here / "greet.yaml", here / "sub" / "old.yaml")
    dry = project.run("prune", "suites")
    assert dry.code == 0, dry.text
    assert dry.out.splitlines()[:2] == ["left alone (not a cassette): cassettes/s/link.yaml",
                                        "left alone (not a cassette): cassettes/s/notes.yaml"]
    assert "would delete 2 cassette(s) no case owns:" in dry.out
    assert "cassettes/s/sampled#1.yaml" in dry.out and "cassettes/s/sampled#2.yaml" in dry.out
    assert "run again with --yes to delete them" in dry.out
    assert (here / "sampled#1.yaml").is_file() and (here / "sampled#2.yaml").is_file()  # a dry run deletes nothing
    done = project.run("prune", "suites", "--yes")
    assert done.code == 0, done.text
    assert "deleted cassettes/s/sampled#1.yaml" in done.out and "2 cassette(s) deleted" in done.out
    assert not (here / "sampled#1.yaml").exists() and not (here / "sampled#2.yaml").exists()
    for name in (*keep, "link.yaml", "sub/old.yaml", "sampled.yaml", "greet.yaml"):
        assert (here / name).exists() or (here / name).is_symlink(), name
    assert outside.is_file()
    assert "no case owns" not in project.run("run", "suites").out
    again = project.run("prune", "suites", "--yes")
    assert "no cassette without a case in 1 suite folder(s)" in again.out


def test_prune_removes_a_suite_folder_it_empties(project: Project, fake: FakeOpenAI) -> None:
    suite = project.suite("t.yaml", "name: t\nmodel: gpt-4o\ncases:\n  - id: old\n    prompt: hi\n")
    assert project.record(fake, "suites").code == 0
    fake.stop()
    suite.write_text(suite.read_text().replace("id: old", "id: new"))
    (project.root / "cassettes" / "t" / f"{LOCK_PREFIX}0123456789abcdef").write_text("")  # a killed run's, unheld
    done = project.run("prune", "suites/t.yaml", "--yes")
    assert done.code == 0, done.text
    assert "removed the empty folder cassettes/t" in done.out
    assert not (project.root / "cassettes" / "t").exists()
    assert (project.root / "cassettes").is_dir()


def test_adaptive_samples_own_every_sample_up_to_their_max(project: Project, fake: FakeOpenAI) -> None:
    project.suite("a.yaml", "name: a\nmodel: gpt-4o\nmin_pass_rate: 0.5\ncases:\n  - id: c\n    prompt: hi\n"
                            "    samples: {min: 2, max: 4}\n")
    assert project.record(fake, "suites").code == 0
    fake.stop()
    here = project.root / "cassettes" / "a"
    for name in ("c#3.yaml", "c#4.yaml"):  # within the rule's max (samples 0..3), and beyond it
        shutil.copy(here / "c.yaml", here / name)
    result = project.run("run", "suites")
    assert "1 cassette(s) no case owns: cassettes/a/c#4.yaml" in result.out, result.out


def test_prune_refuses_a_case_selection_and_deletes_nothing_when_a_suite_is_broken(project: Project) -> None:
    project.suite("g.yaml", "name: g\nmodel: gpt-4o\ncases:\n  - id: x\n    prompt: hi\n")
    (project.root / "cassettes" / "g").mkdir()
    orphan = project.root / "cassettes" / "g" / "old.yaml"
    orphan.write_text("version: 1\ninteractions: []\n")
    selected = project.run("prune", "suites/g.yaml::x", "--yes")
    assert selected.code == 2 and "whole suites" in selected.err
    project.suite("broken.yaml", "name: broken\nmodel: gpt-4o\ncases: 3\n")
    result = project.run("prune", "suites", "--yes")
    assert result.code == 2 and "suites/broken.yaml" in result.err and "Traceback" not in result.err
    assert orphan.is_file()
    (project.root / "suites" / "broken.yaml").unlink()
    assert "deleted cassettes/g/old.yaml" in project.run("prune", "suites", "--yes").out


def test_suites_sharing_a_folder_never_take_each_others_cassettes_for_orphans(project: Project,
                                                                               fake: FakeOpenAI) -> None:
    # chat.yaml in two folders: both are named "chat" and record into cassettes/chat/.
    project.suite("a/chat.yaml", "model: gpt-4o\ncases:\n  - id: one\n    prompt: first\n")
    project.suite("b/chat.yaml", "model: gpt-4o\ncases:\n  - id: two\n    prompt: second\n")
    assert project.record(fake, "suites").code == 0
    fake.stop()
    shared = project.root / "cassettes" / "chat"
    assert sorted(p.name for p in shared.iterdir()) == ["one.yaml", "two.yaml"]
    alone = project.run("run", "suites/a/chat.yaml", "--fail-on", "orphans")
    assert alone.code == 0 and "no case owns" not in alone.out, alone.text
    pruned = project.run("prune", "suites/a/chat.yaml", "--yes")
    assert "no cassette without a case" in pruned.out and (shared / "two.yaml").is_file()
    # The other suite's case renamed: its old cassette is an orphan of its own suite only.
    other = project.root / "suites" / "b" / "chat.yaml"
    other.write_text(other.read_text().replace("id: two", "id: deux"))
    assert "no case owns" not in project.run("run", "suites/a/chat.yaml").out
    assert "1 cassette(s) no case owns: cassettes/chat/two.yaml" in project.run("run", "suites/b/chat.yaml").out
