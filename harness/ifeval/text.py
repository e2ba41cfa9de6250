"""Text utilities behind the IFEval checkers.

Why hand-written: IFEval's verdicts hinge on very specific definitions of a
"word", a "capitalised word" and of the loose-mode clean-ups.
General-purpose libraries (nltk, spaCy, syntok, ...) each use their own,
slightly different rules, need downloadable model data, and drift between
releases, so they flip verdicts near a threshold.  The small functions here
implement exactly the definitions the reference verdicts rely on, have no
data files, run in linear time on very long responses, and are checked
verdict-for-verdict against the published reference output
(tests/test_ifeval_conformance.py).  Sentences are the exception: the
reference counts them with NLTK's punkt, whose decisions come from a trained
model no short rule set reproduces, so :mod:`harness.ifeval.sentences` runs
punkt itself.
"""

from __future__ import annotations

import re
import threading

__all__ = [
    "capital_words",
    "count_words",
    "detect_language",
    "excerpt_around",
    "loose_variants",
    "snippet",
]

# --------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------

_WORD_RE = re.compile(r"\w+")


def count_words(text: str) -> int:
    r"""Number of ``\w+`` runs in ``text``.

    IFEval counts words as maximal runs of Unicode word characters, so
    "don't" is two words, "state-of-the-art" four, and "2023" one.
    """
    return sum(1 for _ in _WORD_RE.finditer(text))


# Tokens in the spirit of the Penn-Treebank convention (as used by common
# English word tokenizers): punctuation, quotes (straight and curly) and
# dashes are split off, while hyphens, slashes, apostrophes and inner dots
# stay inside a token ("AI-DRIVEN", "AI/ML", "U.S.A.").  English clitics
# ("'s", "n't", "'ll", ...) and a few fused forms ("cannot", "gonna") become
# two tokens, so "DON'T" is the two capital words "DO" and "N'T".  Only the
# number of tokens whose letters are all capitals matters, so these rules
# only need to decide which capital letters end up in which token.
_TOKEN_SPLIT_RE = re.compile(
    r"""
      [;@#$%&?!()\[\]{}<>"*`\u2018\u2019\u201c\u201d\u00ab\u00bb\u201e\u2013\u2014]
    | [:,](?!\d)                    # colon/comma, unless a digit follows
    | \.{2,}                        # ellipsis
    | -{2,}                         # double dash
    """,
    re.VERBOSE,
)
_CLITIC_RE = re.compile(r"(?i)(n't|'s|'m|'d|'ll|'re|'ve)(?=\.*$)")
_FUSED_RE = re.compile(r"(?i)^(can)(not)$|^(gon|wan)(na)$|^(got)(ta)$|^(gim|lem)(me)$")


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for chunk in text.split():
        for piece in _TOKEN_SPLIT_RE.split(chunk):
            if not piece:
                continue
            fused = _FUSED_RE.match(piece)
            clitic = _CLITIC_RE.search(piece)
            if fused:
                tokens.extend(part for part in fused.groups() if part)
            elif clitic and clitic.start() > 0:
                tokens.append(piece[: clitic.start()])
                tokens.append(piece[clitic.start() :])
            else:
                tokens.append(piece)
    return tokens


def capital_words(text: str) -> list[str]:
    """Words written fully in capital letters ("NASA", "I", "U.S.", "AI-DRIVEN").

    A token counts when it contains at least one cased letter and every
    cased letter is upper case (``str.isupper``), so digits and punctuation
    inside a token ("COVID-19", "U.S.") do not disqualify it.
    """
    return [tok for tok in _tokens(text) if tok.isupper()]


# --------------------------------------------------------------------------
# Loose mode
# --------------------------------------------------------------------------


def loose_variants(response: str) -> list[str]:
    """The eight candidate texts that loose mode tries, in order.

    The paper's loose mode forgives three common kinds of noise: markdown
    emphasis markers (``*``/``**``), an intro line ("Sure, here is ...") and
    an outro line ("Let me know if ...").  The variants are: the response;
    without its first line; without its last line; without both; and each of
    those four with every ``*`` removed.  Line-trimmed variants are stripped
    of surrounding whitespace.  Callers skip variants that are blank.
    """
    lines = response.split("\n")
    trimmed = [
        response,
        "\n".join(lines[1:]).strip(),
        "\n".join(lines[:-1]).strip(),
        "\n".join(lines[1:-1]).strip(),
    ]
    return trimmed + [variant.replace("*", "") for variant in trimmed]


# --------------------------------------------------------------------------
# Language detection
# --------------------------------------------------------------------------

_LANG_LOCK = threading.Lock()


def detect_language(text: str) -> str | None:
    """ISO 639-1 code from ``langdetect``, or None when it cannot decide.

    langdetect samples n-grams at random, so on short or mixed texts its
    answer depends on the seed.  Seed 0 makes it reproducible and matches
    every language-dependent reference verdict on the GPT-4 data.  The
    previous global seed is restored afterwards, and a lock keeps that safe
    under threads.
    """
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import (
        LangDetectException,
    )

    with _LANG_LOCK:
        previous = DetectorFactory.seed
        DetectorFactory.seed = 0
        try:
            return str(detect(text))
        except LangDetectException:
            return None
        finally:
            DetectorFactory.seed = previous


# --------------------------------------------------------------------------
# Reporting helpers
# --------------------------------------------------------------------------


def snippet(text: str, limit: int = 120) -> str:
    """``text`` on one line, trimmed to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[: max(limit - 3, 0)].rstrip() + "..."


def excerpt_around(text: str, index: int, width: int = 20) -> str:
    """A short one-line excerpt of ``text`` centred on position ``index``."""
    start = max(index - width, 0)
    end = min(index + width + 1, len(text))
    body = " ".join(text[start:end].split())
    return ("..." if start > 0 else "") + body + ("..." if end < len(text) else "")
