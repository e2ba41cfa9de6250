"""A cassette's YAML is PyYAML's, byte for byte, whichever way it was written.

Recording writes most cassettes without PyYAML (harness/cassettes/yaml_text.py's fast_dump) and leaves the rest to
it. Cassettes are reviewed in git diffs and replayed by plain vcrpy: a cassette written the fast way
that differed by one quote or one space from PyYAML's would show as a change in every review and
could read back as another value. Each test compares the fast writer with PyYAML itself, on
recorded answers, on every shipped cassette and on generated hard strings, and checks that the fast
way is actually taken (a writer that always fell back would pass the comparison and gain nothing).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml

from harness import apis, cassettes
from harness.cassettes import yaml_text
from harness.testing.fake_openai import FakeOpenAI, Rule

from conftest import Project

ROOT = Path(__file__).resolve().parent.parent

#: Strings whose YAML style is decided by a rule of libyaml's emitter: indicators at the start,
#: ': ' and ' #' inside, values that would read back as another type, line breaks at either end
#: (``|+`` and the ``...`` end marker, ``|2`` for a leading space), quotes, non-ASCII.
HARD = [
    "", " ", "a", "Echo: hello", "key:", "a:b", ":a", "- a", "-a", "-", "?", "? a", "?a", "#a", "a #b",
    "a#b", "---", "--- a", "...", "..a", "a ", " a", "it's", "'quoted'", '"double"', "a, b", "[a]",
    "{a}", "&a", "*a", "!a", "|a", ">a", "%a", "@a", "`a", "200", "-1", "0x1F", "1e3", "1.5", ".5",
    "true", "True", "yes", "no", "on", "off", "null", "~", "Null", "2024-01-01", "2024-01-01 10:00:00",
    "<<", "=", "1_000", "0o17", "+1", ".inf", ".NaN", "é", "日本語の文", "naïve café", "a\u00a0b",
    "a\nb", "a\n", "a\n\n", "\n", "\n\n", "\na", " a\nb", "a\n b", "a\n\nb", "a\n\n\nb\n", "line \nnext",
    "a\nb ", "a\n ", "tab\there", "cr\rhere", "emoji 😀", "nul\x00", "bell\x07", "del\x7f", "\u0085",
    "a\u2028b", "\ufeffbom", "\ue000private", "x" * 200, "y: " * 50, "k" * 129,
    '{\n  "a": 1,\n  "b": [\n    "c"\n  ]\n}', "data: {}\n\ndata: [DONE]\n\n",
]


def _equal_when_fast(doc: dict[str, Any]) -> bool:
    """Whether the fast writer wrote ``doc`` (it must then be PyYAML's text exactly)."""
    fast = yaml_text.fast_dump(doc)
    reference = yaml_text.pyyaml_dump(doc)
    assert fast is None or fast == reference, (doc, fast, reference)
    assert yaml_text.dump(doc) == reference
    return fast is not None


def _doc(value: Any) -> dict[str, Any]:
    return {"interactions": [{"harness": {"answer": value}, "request": {"body": value}}], "version": 1}


def test_hard_strings_as_values_keys_and_list_items() -> None:
    fast = 0
    for text in HARD:
        fast += _equal_when_fast(_doc(text))
        fast += _equal_when_fast(_doc([text, [text], {"k": text}, {}]))
        fast += _equal_when_fast({"interactions": [{text: 1, "b": {text: [text]}}], "version": 1})
    for text in ("Echo: hello", "a\n\nb", "a\n\n", "\na", "200", "it's", "日本語の文", ""):
        assert yaml_text.fast_dump(_doc(text)) is not None, text
    assert fast > len(HARD)  # multi-line keys and odd characters are PyYAML's


def test_literal_blocks_that_keep_their_final_line_breaks_end_the_document() -> None:
    # libyaml closes a stream whose last literal block kept its line breaks ("|+") with "...".
    assert yaml_text.fast_dump(_doc("a\n\n")) == yaml_text.pyyaml_dump(_doc("a\n\n"))
    assert yaml_text.fast_dump(_doc("a\n\n")).endswith("version: 1\n...\n")  # type: ignore[union-attr]
    later = {"interactions": [{"a": "x\n\n", "b": "y\nz"}], "version": 1}  # a later block resets it
    assert _equal_when_fast(later) and not yaml_text.dump(later).endswith("...\n")


def test_what_only_pyyaml_writes_is_left_to_it() -> None:
    shared = ["same", "list"]
    doc = {"interactions": [{"a": shared, "b": shared}], "version": 1}  # PyYAML writes an anchor
    assert yaml_text.fast_dump(doc) is None
    assert "&id001" in yaml_text.dump(doc) and yaml_text.dump(doc) == yaml_text.pyyaml_dump(doc)
    for value in (1.5, "emoji 😀", "tab\there", "a\nb ", ("tuple",), b"bytes"):
        assert yaml_text.fast_dump(_doc(value)) is None, value
    assert yaml_text.fast_dump({"interactions": [{"k" * 129: 1}]}) is None  # not a simple key


def test_generated_documents() -> None:
    rng = random.Random(20261130)
    alphabet = list("ab1 :#-'\"\n.?|{}é日\t😀~")

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 7)))

    def value(depth: int) -> Any:
        kind = rng.randrange(8 if depth < 3 else 5)
        if kind < 3:
            return text()
        if kind == 3:
            return rng.choice([0, -7, 200, True, False, None])
        if kind == 4:
            return rng.choice(["stop", "Echo: hi", "/chat/completions", "application/json"])
        if kind in (5, 6):
            return {text() or "k": value(depth + 1) for _ in range(rng.randrange(0, 4))}
        return [value(depth + 1) for _ in range(rng.randrange(0, 4))]

    fast = sum(_equal_when_fast({"interactions": [value(0)], "version": 1}) for _ in range(3000))
    assert fast > 600  # documents with a tab, an emoji or a trailing space are PyYAML's


def test_every_shipped_cassette() -> None:
    paths = sorted((ROOT / "cassettes").rglob("*.yaml"))
    assert len(paths) > 100
    fast = sum(_equal_when_fast(cassettes.document(cassettes.read(path))) for path in paths)
    assert fast >= 0.95 * len(paths)  # a few IFEval answers hold emoji, which libyaml escapes


ANSWERS = {
    "colon": "Echo: the answer is: yes",
    "blank lines": "first paragraph\n\nsecond paragraph\n",
    "kept breaks": "ends with two breaks\n\n",
    "indented": "  indented code\n  more",
    "typed": "200",
    "quotes": "it's \"quoted\" # not a comment",
    "unicode": "naïve café, 日本語",
    "emoji": "done 😀",
}


def test_recorded_cassettes_are_pyyamls_bytes(project: Project, fake: FakeOpenAI) -> None:
    cases = "".join(f"  - id: c{i}\n    prompt: say {name}\n" for i, name in enumerate(ANSWERS))
    # A streamed answer is stored as server-sent events, which end in a blank line ("|+").
    cases += "  - id: streamed\n    prompt: say colon\n    stream: true\n"
    project.suite("s.yaml", "model: gpt-4o\ncases:\n" + cases)
    for name, answer in ANSWERS.items():
        fake.add_rule(Rule(contains=f"say {name}", content=answer))
    assert project.record(fake, "suites").code == 0
    fake.stop()
    paths = project.cassette_files()
    assert len(paths) == len(ANSWERS) + 1
    fast, answers = 0, set()
    for path in paths:
        header, text = path.read_text().split("\n", 2)[:2], path.read_text().split("\n", 2)[2]
        assert header[0].startswith("# harness ") and header[1].startswith("# Re-record: ")
        doc = cassettes.document(cassettes.read(path))
        assert text == yaml_text.pyyaml_dump(doc), path
        [interaction] = cassettes.read(path)
        answers.add(apis.parse_answer(apis.for_path(interaction.path), interaction.status,
                                                interaction.response_headers, interaction.response_text).content)
        assert yaml.safe_load(text)["version"] == 1
        fast += yaml_text.fast_dump(doc) is not None
    assert answers == set(ANSWERS.values())
    assert fast == len(ANSWERS)  # all but the emoji, and the streamed one
    assert (project.root / "cassettes" / "s" / "streamed.yaml").read_text().endswith("\n...\n")
    assert project.run("run", "suites").code == 0  # and they replay, offline
