"""Behaviour of the 25 IFEval checkers on hand-written responses.

For every instruction id: a response that follows it and one that does not, then the edge cases a
user runs into: blank responses, accented and CJK text, code-fenced JSON, very long responses,
responses that only pass in loose mode, bad kwargs, and the reasons shown in test reports.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from harness.ifeval import INSTRUCTION_IDS, IFEvalError, explain, follows, validate_kwargs
from harness.ifeval.text import (
    capital_words,
    count_words,
    loose_variants,
)

LEAST = "at least"
LESS = "less than"

# One valid kwargs mapping per id (used by the tests that loop over all ids).
KWARGS: dict[str, dict[str, Any]] = {
    "change_case:capital_word_frequency": {"capital_relation": LEAST, "capital_frequency": 3},
    "change_case:english_capital": {},
    "change_case:english_lowercase": {},
    "combination:repeat_prompt": {"prompt_to_repeat": "Write a haiku about rain."},
    "combination:two_responses": {},
    "detectable_content:number_placeholders": {"num_placeholders": 2},
    "detectable_content:postscript": {"postscript_marker": "P.S."},
    "detectable_format:constrained_response": {},
    "detectable_format:json_format": {},
    "detectable_format:multiple_sections": {"section_spliter": "SECTION", "num_sections": 2},
    "detectable_format:number_bullet_lists": {"num_bullets": 3},
    "detectable_format:number_highlighted_sections": {"num_highlights": 2},
    "detectable_format:title": {},
    "keywords:existence": {"keywords": ["rain", "umbrella"]},
    "keywords:forbidden_words": {"forbidden_words": ["bad", "awful"]},
    "keywords:frequency": {"keyword": "cat", "relation": LEAST, "frequency": 2},
    "keywords:letter_frequency": {"letter": "z", "let_relation": LEAST, "let_frequency": 3},
    "language:response_language": {"language": "de"},
    "length_constraints:nth_paragraph_first_word": {
        "num_paragraphs": 3,
        "nth_paragraph": 2,
        "first_word": "however",
    },
    "length_constraints:number_paragraphs": {"num_paragraphs": 3},
    "length_constraints:number_sentences": {"relation": LESS, "num_sentences": 3},
    "length_constraints:number_words": {"relation": LEAST, "num_words": 5},
    "punctuation:no_comma": {},
    "startend:end_checker": {"end_phrase": "Any other questions?"},
    "startend:quotation": {},
}

# (id, kwargs override or None for KWARGS[id], response that follows, response that does not)
EXAMPLES: list[tuple[str, dict[str, Any] | None, str, str]] = [
    (
        "change_case:capital_word_frequency",
        None,
        "NASA and the ESA planned a JOINT mission.",
        "NASA planned a mission.",
    ),
    (
        "change_case:capital_word_frequency",
        {"capital_relation": LESS, "capital_frequency": 2},
        "NASA planned a mission.",
        "I think NASA planned it.",
    ),
    (
        "change_case:english_capital",
        None,
        "THIS ANSWER IS WRITTEN ENTIRELY IN CAPITAL LETTERS, AS REQUESTED BY THE USER.",
        "This answer is written in normal sentence case.",
    ),
    (
        "change_case:english_lowercase",
        None,
        "this answer is written entirely in lowercase letters, as the user requested.",
        "this answer is written in lowercase except for One word.",
    ),
    (
        "combination:repeat_prompt",
        None,
        "Write a haiku about rain.\nSoft rain on the roof / ...",
        "Sure! Write a haiku about rain.\nSoft rain on the roof / ...",
    ),
    (
        "combination:two_responses",
        None,
        "Rain is water falling from clouds.\n******\nRain is the sky's way of watering plants.",
        "Rain is water falling from clouds.",
    ),
    (
        "detectable_content:number_placeholders",
        None,
        "Dear [name], your order ships to [address].",
        "Dear [name], your order ships soon.",
    ),
    (
        "detectable_content:postscript",
        None,
        "See you on Monday.\n\nP.S. Bring the slides.",
        "See you on Monday. PS bring the slides.",
    ),
    (
        "detectable_content:postscript",
        {"postscript_marker": "P.P.S"},
        "See you.\n\nP.S. Bring slides.\nP.P.S. And coffee.",
        "See you.\n\nP.S. Bring slides.",
    ),
    (
        "detectable_format:constrained_response",
        None,
        "My answer is maybe.",
        "Yes, definitely.",
    ),
    (
        "detectable_format:json_format",
        None,
        '{"city": "Paris", "population": 2100000}',
        'The answer is {"city": "Paris"}',
    ),
    (
        "detectable_format:multiple_sections",
        None,
        "SECTION 1\nIntroduction.\nSECTION 2\nDetails.",
        "SECTION 1\nIntroduction and details.",
    ),
    (
        "detectable_format:number_bullet_lists",
        None,
        "Fruits:\n* apple\n* pear\n- plum",
        "Fruits:\n* apple\n* pear\n- plum\n- fig",
    ),
    (
        "detectable_format:number_highlighted_sections",
        None,
        "The *first* point and the **second** point.",
        "Only the *first* point; ** ** is empty.",
    ),
    (
        "detectable_format:title",
        None,
        "<<A Rainy Day>>\nIt rained all day.",
        "A Rainy Day\nIt rained all day.",
    ),
    (
        "keywords:existence",
        None,
        "Rain means you need an UMBRELLA.",
        "Rain means you need a coat.",
    ),
    (
        "keywords:forbidden_words",
        None,
        "A badge and an awfully nice day.",
        "That was a BAD idea.",
    ),
    (
        "keywords:frequency",
        None,
        "My cat chased another Cat.",
        "My cat slept.",
    ),
    (
        "keywords:frequency",
        {"keyword": "cat", "relation": LESS, "frequency": 2},
        "My cat slept.",
        "My cat chased another cat.",
    ),
    (
        "keywords:letter_frequency",
        None,
        "Zebras zigzag.",
        "Zebras run.",
    ),
    (
        "keywords:letter_frequency",
        {"letter": "z", "let_relation": LESS, "let_frequency": 2},
        "Zebras run.",
        "Zebras zigzag.",
    ),
    (
        "language:response_language",
        None,
        "Das Wetter ist heute sehr schön und wir gehen im Park spazieren.",
        "The weather is very nice today and we are going for a walk in the park.",
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        None,
        "Rain is common.\n\nHowever, it is rarely welcome.\n\nStill, plants need it.",
        "Rain is common.\n\nBut it is rarely welcome.\n\nStill, plants need it.",
    ),
    (
        "length_constraints:number_paragraphs",
        None,
        "First part.\n***\nSecond part.\n***\nThird part.",
        "First part.\n***\nSecond part.",
    ),
    (
        "length_constraints:number_sentences",
        None,
        "Dr. Smith arrived at 3.14 p.m. on time. He left early.",
        "One. Two. Three.",
    ),
    (
        "length_constraints:number_sentences",
        {"relation": LEAST, "num_sentences": 3},
        "It rained! Did it? Yes, it did.",
        "It rained, e.g. in Paris and the U.S. all day.",
    ),
    (
        "length_constraints:number_words",
        None,
        "one two three four five",
        "one two three four",
    ),
    (
        "length_constraints:number_words",
        {"relation": LESS, "num_words": 3},
        "Short answer.",
        "A longer answer here.",
    ),
    (
        "punctuation:no_comma",
        None,
        "No commas in this answer.",
        "Apples, pears and plums.",
    ),
    (
        "startend:end_checker",
        None,
        "That is all. Any other questions?",
        "Any other questions? Bye.",
    ),
    (
        "startend:quotation",
        None,
        '"Rain is wet."',
        'Rain is "wet".',
    ),
]


def test_the_25_instruction_ids() -> None:
    assert len(INSTRUCTION_IDS) == len(set(INSTRUCTION_IDS)) == 25
    assert set(INSTRUCTION_IDS) == set(KWARGS)
    assert {iid for iid, *_ in EXAMPLES} == set(INSTRUCTION_IDS)


@pytest.mark.parametrize(
    ("iid", "kwargs", "good", "bad"),
    EXAMPLES,
    ids=[f"{e[0]}-{i}" for i, e in enumerate(EXAMPLES)],
)
def test_pass_and_fail(iid: str, kwargs: dict[str, Any] | None, good: str, bad: str) -> None:
    kwargs = KWARGS[iid] if kwargs is None else kwargs
    ok, reason = explain(iid, kwargs, good)
    assert ok, reason
    ok, reason = explain(iid, kwargs, bad)
    assert not ok, reason
    assert reason
    assert follows(iid, kwargs, good, loose=True)


# --- checker details a user would notice ---------------------------------------------------


def test_two_responses_must_differ_and_be_exactly_two() -> None:
    assert not follows("combination:two_responses", {}, "Same.\n******\nSame.")
    assert not follows("combination:two_responses", {}, "A\n******\nB\n******\nC")
    assert not follows("combination:two_responses", {}, "A\n******\n   \n******\nB")
    assert follows("combination:two_responses", {}, "******\nA\n******\nB\n******")


def test_repeat_prompt_ignores_case_and_surrounding_space() -> None:
    kwargs = {"prompt_to_repeat": "  Write a haiku about rain.  "}
    assert follows("combination:repeat_prompt", kwargs, "\nWRITE A HAIKU ABOUT RAIN.\nDrops.")
    ok, reason = explain("combination:repeat_prompt", kwargs, "Write a poem about rain.")
    assert not ok
    assert "character 8" in reason and "haiku" in reason


def test_placeholders_do_not_span_lines() -> None:
    kwargs = {"num_placeholders": 1}
    assert not follows("detectable_content:number_placeholders", kwargs, "[name\n]")
    assert follows("detectable_content:number_placeholders", kwargs, "[]")


def test_bullets_count_dash_and_star_lines_but_not_bold() -> None:
    kwargs = {"num_bullets": 2}
    text = "**Heading**\n  * one\n  - two\nnot * a bullet"
    ok, reason = explain("detectable_format:number_bullet_lists", kwargs, text)
    assert ok, reason
    assert reason == "2 bullet points, need exactly 2"


def test_keywords_match_inside_longer_words_but_forbidden_words_are_whole_words() -> None:
    assert follows("keywords:existence", {"keywords": ["umbrella"]}, "Two umbrellas.")
    assert follows("keywords:frequency", {"keyword": "cat", "relation": LEAST, "frequency": 2},
                   "A cat and a catalogue.")  # fmt: skip
    assert follows("keywords:forbidden_words", {"forbidden_words": ["cat"]}, "A catalogue.")
    ok, reason = explain("keywords:forbidden_words", {"forbidden_words": ["cat"]}, "The Cat sat.")
    assert not ok
    assert "'cat'" in reason and "The Cat sat" in reason


def test_keyword_with_regex_characters_is_literal() -> None:
    kwargs = {"keyword": "c++", "relation": LEAST, "frequency": 1}
    assert follows("keywords:frequency", kwargs, "I like C++.")
    assert not follows("keywords:frequency", kwargs, "I like c.")


def test_letter_frequency_counts_non_letters_literally() -> None:
    kwargs = {"letter": "#", "let_relation": LEAST, "let_frequency": 4}
    ok, reason = explain("keywords:letter_frequency", kwargs, "# a\n## b\n# c")
    assert ok
    assert "'#' appears 4 times" in reason
    assert not follows("keywords:letter_frequency", kwargs, "# a ## b")


def test_nth_paragraph_first_word_strips_quotes_and_punctuation() -> None:
    kwargs = {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "However"}
    text = 'Intro.\n\n"However," she said.'
    assert follows("length_constraints:nth_paragraph_first_word", kwargs, text)
    ok, reason = explain("length_constraints:nth_paragraph_first_word", kwargs, "Only one.")
    assert not ok
    assert "1 paragraph" in reason and "paragraph 2" in reason


def test_number_paragraphs_rejects_an_empty_paragraph_between_dividers() -> None:
    kwargs = {"num_paragraphs": 2}
    ok, reason = explain("length_constraints:number_paragraphs", kwargs, "A\n***\n***\nB")
    assert not ok
    assert "empty" in reason
    assert follows("length_constraints:number_paragraphs", kwargs, "***\nA\n***\nB\n***")


def test_end_checker_allows_a_closing_double_quote() -> None:
    kwargs = {"end_phrase": "Is there anything else I can help with?"}
    text = '"Done. Is there anything else I can help with?"'
    assert follows("startend:end_checker", kwargs, text)
    assert follows("startend:end_checker", kwargs, text.upper())


def test_quotation_needs_more_than_a_lone_quote() -> None:
    assert not follows("startend:quotation", {}, '"')
    assert follows("startend:quotation", {}, '  "Hi"\n')


# --- words and capital words (sentences: tests/test_ifeval_sentences.py) ------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("don't", 2),
        ("state-of-the-art", 4),
        ("Café naïve résumé", 3),
        ("我喜欢猫", 1),  # no spaces: one run of word characters
        ("我 喜欢 猫", 3),
        ("  ", 0),
    ],
)
def test_word_counting(text: str, expected: int) -> None:
    assert count_words(text) == expected


def test_capital_words() -> None:
    assert capital_words("DON'T STOP") == ["DO", "N'T", "STOP"]
    assert capital_words("I said NASA\u2019s AI-DRIVEN U.S. plan, (OK)") == [
        "I",
        "NASA",
        "AI-DRIVEN",
        "U.S.",
        "OK",
    ]
    assert capital_words("ÉCOLE über 2023 COVID-19") == ["ÉCOLE", "COVID-19"]


# --- unicode --------------------------------------------------------------------------------


def test_unicode_responses() -> None:
    assert follows("keywords:existence", {"keywords": ["café"]}, "Un CAFÉ, s'il vous plaît.")
    kwargs = {"letter": "é", "let_relation": LEAST, "let_frequency": 2}
    assert follows("keywords:letter_frequency", kwargs, "Été")
    assert follows("language:response_language", {"language": "ja"}, "今日はとても良い天気ですね。")
    assert follows("language:response_language", {"language": "ko"}, "오늘은 날씨가 정말 좋네요.")
    assert not follows("language:response_language", {"language": "ja"}, "The weather is nice.")
    words = {"relation": LEAST, "num_words": 3}
    assert follows("length_constraints:number_words", words, "Café naïve résumé")
    assert not follows("length_constraints:number_words", words, "我喜欢猫和狗")


def test_case_checks_require_english() -> None:
    french = "ceci est une réponse entièrement en français, écrite en minuscules pour le test."
    ok, reason = explain("change_case:english_lowercase", {}, french)
    assert not ok
    assert "'fr'" in reason
    assert not follows("change_case:english_capital", {}, french.upper())


def test_undetectable_language_counts_as_followed() -> None:
    ok, reason = explain("language:response_language", {"language": "de"}, "12345 !!! 678")
    assert ok
    assert "could not be detected" in reason


# --- code-fenced JSON ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"a": [1, 2]}\n```',
        '```JSON\n{"a": 1}\n```',
        "```\n[1, 2, 3]\n```",
        '  {"nested": {"b": null}}  ',
    ],
)
def test_json_in_and_out_of_code_fences(text: str) -> None:
    assert follows("detectable_format:json_format", {}, text)


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"a": 1,}\n```',
        'Here it is:\n```json\n{"a": 1}\n```\nEnjoy!',
        "```python\nprint(1)\n```",
        "[" * 100_000,
    ],
)
def test_not_json(text: str) -> None:
    ok, reason = explain("detectable_format:json_format", {}, text)
    assert not ok
    assert "not valid JSON" in reason


# --- empty responses ------------------------------------------------------------------------


@pytest.mark.parametrize("iid", INSTRUCTION_IDS)
@pytest.mark.parametrize("response", ["", "   \n\t ", None])
def test_empty_response_never_follows(iid: str, response: str | None) -> None:
    for loose in (False, True):
        ok, reason = explain(iid, KWARGS[iid], response, loose=loose)
        assert not ok
        assert reason.startswith("empty response")


# --- loose mode ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("iid", "kwargs", "text", "label"),
    [
        ("punctuation:no_comma", {}, "Sure, here it is:\nNo commas in this answer", "first line"),
        ("detectable_format:json_format", {}, 'Here is the JSON:\n{"a": 1}', "first line"),
        ("startend:quotation", {}, 'Here you go:\n"Rain is wet."', "first line"),
        (
            "startend:end_checker",
            {"end_phrase": "Any other questions?"},
            "Done. Any other questions?\nHave a nice day!",
            "last line",
        ),
        (
            "startend:end_checker",
            {"end_phrase": "Any other questions?"},
            "Done. **Any other questions?**",
            "'*' removed",
        ),
        (
            "change_case:english_lowercase",
            {},
            "My Answer\nthis answer is written in lowercase english letters only.",
            "first line",
        ),
        (
            "length_constraints:number_words",
            {"relation": LESS, "num_words": 5},
            "Here is my very short reply:\none two three\nHope that helps you today!",
            "first and last lines",
        ),
        (
            "change_case:capital_word_frequency",
            {"capital_relation": LESS, "capital_frequency": 2},
            "MY TITLE IN CAPS\nnormal text about NASA follows",
            "first line",
        ),
    ],
)
def test_loose_only_passes(iid: str, kwargs: dict[str, Any], text: str, label: str) -> None:
    ok, reason = explain(iid, kwargs, text)
    assert not ok, reason
    ok, reason = explain(iid, kwargs, text, loose=True)
    assert ok, reason
    assert "loose:" in reason and label in reason


def test_loose_failure_says_no_variant_passed() -> None:
    ok, reason = explain("punctuation:no_comma", {}, "a, b\nc, d\ne, f", loose=True)
    assert not ok
    assert "found 3 commas" in reason and "no loose variant passes" in reason


def test_loose_variants() -> None:
    variants = loose_variants("Intro\n**body**\nOutro")
    assert len(variants) == 8
    assert variants[:4] == [
        "Intro\n**body**\nOutro",
        "**body**\nOutro",
        "Intro\n**body**",
        "**body**",
    ]
    assert variants[4:] == ["Intro\nbody\nOutro", "body\nOutro", "Intro\nbody", "body"]


# --- kwargs validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("iid", "kwargs", "named"),
    [
        ("punctuation:no_semicolon", {}, "punctuation:no_semicolon"),
        ("length_constraints:number_words", {"relation": LEAST}, "num_words"),
        ("punctuation:no_comma", {"num_words": 3}, "num_words"),
        ("length_constraints:number_words", {"relation": "at most", "num_words": 3}, "relation"),
        ("length_constraints:number_words", {"relation": LEAST, "num_words": -1}, "num_words"),
        ("length_constraints:number_words", {"relation": LEAST, "num_words": "300"}, "num_words"),
        ("length_constraints:number_words", {"relation": LEAST, "num_words": True}, "num_words"),
        ("keywords:letter_frequency", {"letter": "ab", "let_relation": LEAST, "let_frequency": 1},
         "letter"),
        ("keywords:existence", {"keywords": []}, "keywords"),
        ("keywords:existence", {"keywords": "rain"}, "keywords"),
        ("startend:end_checker", {"end_phrase": "  "}, "end_phrase"),
        ("length_constraints:nth_paragraph_first_word",
         {"num_paragraphs": 2, "nth_paragraph": 0, "first_word": "so"}, "nth_paragraph"),
        ("length_constraints:nth_paragraph_first_word",
         {"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "so"}, "nth_paragraph"),
    ],
)  # fmt: skip
def test_invalid_kwargs(iid: str, kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(IFEvalError) as excinfo:
        validate_kwargs(iid, kwargs)
    message = str(excinfo.value)
    assert iid in message
    assert named in message
    with pytest.raises(ValueError, match=named):  # IFEvalError is a ValueError
        follows(iid, kwargs, "some response")


def test_kwargs_set_to_none_are_ignored() -> None:
    validate_kwargs("punctuation:no_comma", {"num_words": None, "relation": None})
    kwargs = {"relation": LEAST, "num_words": 2, "keyword": None}
    assert follows("length_constraints:number_words", kwargs, "two words")


def test_prompt_argument_is_accepted() -> None:
    kwargs = KWARGS["combination:repeat_prompt"]
    text = "Write a haiku about rain. Drops fall."
    assert follows("combination:repeat_prompt", kwargs, text, prompt="ignored")


# --- reasons --------------------------------------------------------------------------------


def test_reasons_state_expected_and_got() -> None:
    kwargs = {"relation": LEAST, "num_words": 300}
    assert explain("length_constraints:number_words", kwargs, "word " * 312) == (
        True,
        "312 words, need at least 300",
    )
    assert explain("length_constraints:number_words", kwargs, "word " * 12) == (
        False,
        "12 words, need at least 300",
    )
    ok, reason = explain("punctuation:no_comma", {}, "I saw the cat, the dog, and more.")
    assert not ok
    assert reason.startswith("found 2 commas (first at: ")
    assert "the cat, the dog" in reason
    sentences = {"relation": LESS, "num_sentences": 2}
    assert explain(
        "length_constraints:number_sentences", sentences, "Rain. We stayed in. End."
    ) == (
        False,
        "3 sentences, need less than 2",
    )
    _, reason = explain("detectable_format:number_highlighted_sections", {"num_highlights": 3},
                        "*one* and *two*")  # fmt: skip
    assert reason.startswith("2 highlighted sections") and "need at least 3" in reason
    _, reason = explain("language:response_language", {"language": "de"}, "Hello, how are you?")
    assert reason == "detected language 'en', need 'de'"


# --- very long responses ----------------------------------------------------------------------

HUGE = {
    "prose": (
        "The cat sat on the mat, Dr. Smith said. It cost 3.14 dollars at 5 p.m. *Wow* [name]\n\n"
        "* item\n- dash\nSECTION 1\n<<Title>>\n***\n"
    )
    * 2000,
    "blank lines": "\n" * 200_000,
    "brackets": "[<<" * 70_000,
    "dots": ".)" * 100_000,
    "one word": "A" * 200_000,
}


@pytest.mark.parametrize("name", HUGE)
def test_huge_responses_finish_quickly(name: str) -> None:
    text = HUGE[name][:200_000]
    assert len(text) == 200_000
    started = time.perf_counter()
    for iid in INSTRUCTION_IDS:
        _, reason = explain(iid, KWARGS[iid], text, loose=True)
        assert len(reason) < 400, (iid, reason)
    # A guard against catastrophic backtracking only (that takes minutes on 200,000 characters), not
    # a speed target: on a quiet machine this loop takes about a second, on a loaded shared one 15.
    assert time.perf_counter() - started < 120


def test_every_instruction_is_a_check_named_by_its_ifeval_id() -> None:
    """The check module lists the ids itself (so registering checks does not import the
    instructions): the list must stay the evaluator's, or a suite naming a new id fails to bind."""
    from harness.checks.ifeval import INSTRUCTION_IDS as CHECK_IDS
    from harness.checks.registry import registered
    from harness.ifeval import INSTRUCTION_IDS

    assert CHECK_IDS == INSTRUCTION_IDS
    assert set(INSTRUCTION_IDS) <= set(registered())
