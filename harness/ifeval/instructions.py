"""The IFEval checkers for content instructions, and the registry of all 25.

Each checker takes the response and already-validated kwargs and returns
``(followed, reason)``; the reason is a short human explanation with the
numbers involved (expected vs got).  Layout checkers (detectable_content,
detectable_format, startend) live in :mod:`harness.ifeval.formats`.
Strict/loose handling, the empty-response rule and kwargs validation live in
:mod:`harness.ifeval`.

Matching rules that the reference verdicts pin down: ``keywords:existence``
and ``keywords:frequency`` match case-insensitive substrings ("sneaker"
counts inside "sneakers"), while ``keywords:forbidden_words`` matches whole
words only; ``keywords:letter_frequency`` is case-insensitive and counts any
single character literally.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from harness.ifeval.base import (
    AT_LEAST,
    RELATIONS,
    Checker,
    Kwargs,
    Verdict,
    plural,
    relation_verdict,
)
from harness.ifeval.formats import (
    constrained_response,
    end_checker,
    json_format,
    multiple_sections,
    number_bullet_lists,
    number_highlighted_sections,
    number_placeholders,
    postscript,
    quotation,
    title,
)
from harness.ifeval.sentences import count_sentences
from harness.ifeval.text import (
    capital_words,
    count_words,
    detect_language,
    excerpt_around,
    snippet,
)

__all__ = ["AT_LEAST", "REGISTRY", "RELATIONS", "Kwargs", "Spec", "Verdict"]

# --------------------------------------------------------------------------
# change_case
# --------------------------------------------------------------------------


def capital_word_frequency(response: str, kw: Kwargs) -> Verdict:
    words = capital_words(response)
    shown = f" (e.g. {', '.join(snippet(w, 20) for w in words[:5])})" if words else ""
    return relation_verdict(
        len(words),
        kw["capital_relation"],
        kw["capital_frequency"],
        plural(len(words), "all-capital word") + shown,
    )


def _english_check(response: str, case_ok: bool, case_reason: str) -> Verdict:
    if not case_ok:
        return False, case_reason
    language = detect_language(response)
    if language not in (None, "en"):
        return False, f"case is right but the language looks like {language!r}, need 'en'"
    return True, "case is right and the language is English"


def english_capital(response: str, kw: Kwargs) -> Verdict:
    lower = next((i for i, ch in enumerate(response) if ch.islower()), -1)
    reason = (
        f"has lowercase letters (first at: {excerpt_around(response, lower)!r})"
        if lower >= 0
        else "has no letters at all"
    )
    return _english_check(response, response.isupper(), reason)


def english_lowercase(response: str, kw: Kwargs) -> Verdict:
    upper = next((i for i, ch in enumerate(response) if ch.isupper()), -1)
    reason = (
        f"has capital letters (first at: {excerpt_around(response, upper)!r})"
        if upper >= 0
        else "has no letters at all"
    )
    return _english_check(response, response.islower(), reason)


# --------------------------------------------------------------------------
# combination
# --------------------------------------------------------------------------


def repeat_prompt(response: str, kw: Kwargs) -> Verdict:
    expected = kw["prompt_to_repeat"].strip().lower()
    got = response.strip().lower()
    if got.startswith(expected):
        return True, "response starts with the request, repeated word for word"
    mismatch = next(
        (i for i, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b),
        min(len(expected), len(got)),
    )
    return False, (
        f"response does not start with the request: differs at character {mismatch}, "
        f"expected {snippet(expected[mismatch:], 50)!r}, got {snippet(got[mismatch:], 50)!r}"
    )


def two_responses(response: str, kw: Kwargs) -> Verdict:
    parts = response.split("******")
    answers: list[str] = []
    for index, part in enumerate(parts):
        if part.strip():
            answers.append(part.strip())
        elif 0 < index < len(parts) - 1:
            return False, f"empty response between '******' separators (part {index + 1})"
    if len(answers) != 2:
        return False, f"{plural(len(answers), 'response')} separated by '******', need exactly 2"
    if answers[0] == answers[1]:
        return False, "the two responses are identical"
    return True, "2 different responses separated by '******'"


# --------------------------------------------------------------------------
# keywords
# --------------------------------------------------------------------------


def _word_pattern(word: str) -> re.Pattern[str]:
    """Case-insensitive whole-word match (used for forbidden words)."""
    return re.compile(r"\b" + re.escape(word.strip()) + r"\b", re.IGNORECASE)


def _text_pattern(text: str) -> re.Pattern[str]:
    """Case-insensitive substring match: "sneaker" also counts inside "sneakers"."""
    return re.compile(re.escape(text.strip()), re.IGNORECASE)


def existence(response: str, kw: Kwargs) -> Verdict:
    missing = [word for word in kw["keywords"] if not _text_pattern(word).search(response)]
    if missing:
        return False, f"missing {plural(len(missing), 'keyword')}: {', '.join(map(repr, missing))}"
    return True, f"all {plural(len(kw['keywords']), 'keyword')} present"


def forbidden_words(response: str, kw: Kwargs) -> Verdict:
    for word in kw["forbidden_words"]:
        match = _word_pattern(word).search(response)
        if match:
            return False, (
                f"forbidden word {word!r} used (at: {excerpt_around(response, match.start())!r})"
            )
    return True, f"none of {plural(len(kw['forbidden_words']), 'forbidden word')} used"


def frequency(response: str, kw: Kwargs) -> Verdict:
    keyword = kw["keyword"]
    count = len(_text_pattern(keyword).findall(response))
    return relation_verdict(
        count,
        kw["relation"],
        kw["frequency"],
        f"keyword {keyword!r} appears {plural(count, 'time')}",
    )


def letter_frequency(response: str, kw: Kwargs) -> Verdict:
    letter = kw["letter"].lower()
    count = response.lower().count(letter)
    return relation_verdict(
        count,
        kw["let_relation"],
        kw["let_frequency"],
        f"letter {letter!r} appears {plural(count, 'time')}",
    )


# --------------------------------------------------------------------------
# language
# --------------------------------------------------------------------------


def response_language(response: str, kw: Kwargs) -> Verdict:
    expected = kw["language"]
    detected = detect_language(response)
    if detected is None:
        return True, "language could not be detected (treated as followed)"
    if detected == expected:
        return True, f"detected language {detected!r}"
    return False, f"detected language {detected!r}, need {expected!r}"


# --------------------------------------------------------------------------
# length_constraints
# --------------------------------------------------------------------------

_PARAGRAPH_PUNCTUATION = frozenset(".,?!'\"")


def _first_word(paragraph: str) -> str:
    word = paragraph.split()[0].lstrip("'\"")
    letters: list[str] = []
    for ch in word:
        if ch in _PARAGRAPH_PUNCTUATION:
            break
        letters.append(ch.lower())
    return "".join(letters)


def nth_paragraph_first_word(response: str, kw: Kwargs) -> Verdict:
    paragraphs = response.split("\n\n")
    count = sum(1 for p in paragraphs if p.strip())
    target, nth, expected = kw["num_paragraphs"], kw["nth_paragraph"], kw["first_word"].lower()
    if nth > count:
        return False, f"{plural(count, 'paragraph')}, no paragraph {nth} (need exactly {target})"
    paragraph = paragraphs[nth - 1].strip()
    if not paragraph:
        return False, f"paragraph {nth} is empty"
    got = _first_word(paragraph)
    shown = snippet(got, 40)
    problems = []
    if count != target:
        problems.append(f"{plural(count, 'paragraph')}, need exactly {target}")
    if got != expected:
        problems.append(f"paragraph {nth} starts with {shown!r}, need {expected!r}")
    if problems:
        return False, "; ".join(problems)
    return True, f"{plural(count, 'paragraph')}, paragraph {nth} starts with {shown!r}"


_DIVIDER_RE = re.compile(r"\s?\*\*\*\s?")


def number_paragraphs(response: str, kw: Kwargs) -> Verdict:
    parts = _DIVIDER_RE.split(response)
    count = len(parts)
    for index, part in enumerate(parts):
        if part.strip():
            continue
        if 0 < index < len(parts) - 1:
            return False, f"empty paragraph between '***' dividers (paragraph {index + 1})"
        count -= 1
    target = kw["num_paragraphs"]
    return (
        count == target,
        f"{plural(count, 'paragraph')} separated by '***', need exactly {target}",
    )


def number_sentences(response: str, kw: Kwargs) -> Verdict:
    count = count_sentences(response)
    return relation_verdict(count, kw["relation"], kw["num_sentences"], plural(count, "sentence"))


def number_words(response: str, kw: Kwargs) -> Verdict:
    count = count_words(response)
    return relation_verdict(count, kw["relation"], kw["num_words"], plural(count, "word"))


# --------------------------------------------------------------------------
# punctuation
# --------------------------------------------------------------------------


def no_comma(response: str, kw: Kwargs) -> Verdict:
    first = response.find(",")
    if first < 0:
        return True, "no commas"
    count = response.count(",")
    return False, f"found {plural(count, 'comma')} (first at: {excerpt_around(response, first)!r})"


# --------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """A checker plus the kwargs it takes: name -> kind.

    Kinds: "int" (integer >= 0), "pos" (integer >= 1), "str" (non-empty
    string), "relation" ("at least" / "less than"), "words" (non-empty list
    of non-empty strings), "char" (a single character).
    """

    checker: Checker
    kwargs: Mapping[str, str]


REGISTRY: dict[str, Spec] = {
    "change_case:capital_word_frequency": Spec(
        capital_word_frequency, {"capital_relation": "relation", "capital_frequency": "int"}
    ),
    "change_case:english_capital": Spec(english_capital, {}),
    "change_case:english_lowercase": Spec(english_lowercase, {}),
    "combination:repeat_prompt": Spec(repeat_prompt, {"prompt_to_repeat": "str"}),
    "combination:two_responses": Spec(two_responses, {}),
    "detectable_content:number_placeholders": Spec(
        number_placeholders, {"num_placeholders": "int"}
    ),
    "detectable_content:postscript": Spec(postscript, {"postscript_marker": "str"}),
    "detectable_format:constrained_response": Spec(constrained_response, {}),
    "detectable_format:json_format": Spec(json_format, {}),
    "detectable_format:multiple_sections": Spec(
        multiple_sections, {"section_spliter": "str", "num_sections": "int"}
    ),
    "detectable_format:number_bullet_lists": Spec(number_bullet_lists, {"num_bullets": "int"}),
    "detectable_format:number_highlighted_sections": Spec(
        number_highlighted_sections, {"num_highlights": "int"}
    ),
    "detectable_format:title": Spec(title, {}),
    "keywords:existence": Spec(existence, {"keywords": "words"}),
    "keywords:forbidden_words": Spec(forbidden_words, {"forbidden_words": "words"}),
    "keywords:frequency": Spec(
        frequency, {"keyword": "str", "relation": "relation", "frequency": "int"}
    ),
    "keywords:letter_frequency": Spec(
        letter_frequency, {"letter": "char", "let_relation": "relation", "let_frequency": "int"}
    ),
    "language:response_language": Spec(response_language, {"language": "str"}),
    "length_constraints:nth_paragraph_first_word": Spec(
        nth_paragraph_first_word,
        {"num_paragraphs": "int", "nth_paragraph": "pos", "first_word": "str"},
    ),
    "length_constraints:number_paragraphs": Spec(number_paragraphs, {"num_paragraphs": "int"}),
    "length_constraints:number_sentences": Spec(
        number_sentences, {"relation": "relation", "num_sentences": "int"}
    ),
    "length_constraints:number_words": Spec(
        number_words, {"relation": "relation", "num_words": "int"}
    ),
    "punctuation:no_comma": Spec(no_comma, {}),
    "startend:end_checker": Spec(end_checker, {"end_phrase": "str"}),
    "startend:quotation": Spec(quotation, {}),
}
