"""harness.ifeval reproduces the reference IFEval evaluator on the published GPT-4 responses.

All 834 instruction verdicts of the 541 prompts are compared in strict and in loose mode. The only
exceptions are keys 1122 and 1129 (keywords:letter_frequency with the non-letters '#' and '!'): the
reference evaluator replaces a non-letter by a random letter, so its verdicts there are noise. Our
checker counts the character literally, and both responses have enough of it (4 '#', 10 '!'), so
both must be followed in both modes.

The data is IFEval's own, byte for byte, in tests/data/ifeval (sources, checksums and license in
its README).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from harness.ifeval import explain

DATA = Path(__file__).resolve().parent / "data" / "ifeval"
#: The published files' sha256 (tests/data/ifeval/README.md): the verdicts are compared with the
#: reference evaluator's own output, not with a copy that could have drifted.
FILES = {
    "input_data.jsonl": "67ffeee0fcb87c317c5b08a2de85557b4a7e96ada6178aa645b4954fe4b53d49",
    "gpt4_responses.jsonl": "c325955b1f139ceb5d3fdf7828b163a5e13d9a3bdbdec15fe1f9fac9a651bd27",
    "reference_strict.jsonl": "113c7eeef009e5cc5362bd123ef972dab4242e94519ca804c885a7064637d30d",
    "reference_loose.jsonl": "2ba0e693a2d3f9d624bcb2b8e8abf77bee388a28153e6e77e95e1315b67e6b1b",
}
RANDOM_IN_REFERENCE = {1122, 1129}
MODES = ("strict", "loose")


def _jsonl(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def data() -> dict[str, list[dict[str, Any]]]:
    return {name.removesuffix(".jsonl"): _jsonl(name) for name in FILES}


@pytest.fixture(scope="module")
def ours(data: dict[str, list[dict[str, Any]]]) -> dict[str, dict[int, list[tuple[bool, str]]]]:
    """Our (verdict, reason) per instruction, per key, per mode."""
    verdicts: dict[str, dict[int, list[tuple[bool, str]]]] = {mode: {} for mode in MODES}
    for item, answer in zip(data["input_data"], data["gpt4_responses"], strict=True):
        for mode in MODES:
            verdicts[mode][item["key"]] = [
                explain(
                    iid, kwargs, answer["response"], prompt=item["prompt"], loose=mode == "loose"
                )
                for iid, kwargs in zip(item["instruction_id_list"], item["kwargs"], strict=True)
            ]
    return verdicts


@pytest.mark.parametrize("name", sorted(FILES))
def test_data_files_are_the_published_ones(name: str) -> None:
    assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == FILES[name]


def test_data_files_line_up(data: dict[str, list[dict[str, Any]]]) -> None:
    inputs = data["input_data"]
    assert len(inputs) == 541
    assert sum(len(item["instruction_id_list"]) for item in inputs) == 834
    for item, answer, strict, loose in zip(
        inputs,
        data["gpt4_responses"],
        data["reference_strict"],
        data["reference_loose"],
        strict=True,
    ):
        assert answer["prompt"] == item["prompt"] == strict["prompt"] == loose["prompt"]
        assert strict["response"] == loose["response"] == answer["response"]
        assert strict["instruction_id_list"] == item["instruction_id_list"]


@pytest.mark.parametrize("mode", MODES)
def test_every_verdict_matches_the_reference(
    data: dict[str, list[dict[str, Any]]],
    ours: dict[str, dict[int, list[tuple[bool, str]]]],
    mode: str,
) -> None:
    mismatches = []
    compared = 0
    for item, reference in zip(data["input_data"], data[f"reference_{mode}"], strict=True):
        key = item["key"]
        expected_list = reference["follow_instruction_list"]
        for index, (iid, expected) in enumerate(
            zip(item["instruction_id_list"], expected_list, strict=True)
        ):
            if key in RANDOM_IN_REFERENCE and iid == "keywords:letter_frequency":
                continue  # random in the reference; see test_non_letter_frequency_...
            compared += 1
            got, reason = ours[mode][key][index]
            if got != expected:
                mismatches.append(
                    f"key {key} {iid} ({mode}): reference {expected}, ours {got}: {reason}"
                )
    assert compared == 834 - 2
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("key", "count"), [(1122, "4"), (1129, "10")])
def test_non_letter_frequency_is_counted_literally(
    data: dict[str, list[dict[str, Any]]],
    ours: dict[str, dict[int, list[tuple[bool, str]]]],
    mode: str,
    key: int,
    count: str,
) -> None:
    item = next(item for item in data["input_data"] if item["key"] == key)
    index = item["instruction_id_list"].index("keywords:letter_frequency")
    followed, reason = ours[mode][key][index]
    assert followed, reason
    assert f"appears {count} times" in reason


def _totals(
    data: dict[str, list[dict[str, Any]]], verdicts: dict[int, list[tuple[bool, str]]]
) -> tuple[int, int]:
    per_prompt = [[ok for ok, _ in verdicts[item["key"]]] for item in data["input_data"]]
    return sum(all(marks) for marks in per_prompt), sum(sum(marks) for marks in per_prompt)


@pytest.mark.parametrize(
    ("mode", "prompts", "instructions"), [("strict", 417, 698), ("loose", 431, 714)]
)
def test_totals(
    data: dict[str, list[dict[str, Any]]],
    ours: dict[str, dict[int, list[tuple[bool, str]]]],
    mode: str,
    prompts: int,
    instructions: int,
) -> None:
    assert _totals(data, ours[mode]) == (prompts, instructions)


def test_loose_never_below_strict(ours: dict[str, dict[int, list[tuple[bool, str]]]]) -> None:
    for key, strict_marks in ours["strict"].items():
        for (strict_ok, _), (loose_ok, reason) in zip(
            strict_marks, ours["loose"][key], strict=True
        ):
            assert loose_ok or not strict_ok, f"key {key}: strict passes but loose fails: {reason}"
