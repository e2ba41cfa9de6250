"""The one place where text leaves the process: which values are secrets, and how to hide them.

Every writer passes its text through here: the terminal consoles (``report.terminal.make_console``
wraps their file), every report file (``report.write_reports``), cassettes (``cassettes.save``),
files under ``.harness/`` (parse cache, batch state), error messages and the pytest door. Cassettes
keep only allow-listed headers, so keys cannot arrive through headers; this catches the rest: a key
a server echoes in an error body or an answer, or one embedded in a URL.

A secret is caught in every form a writer or a server may give it: raw, JSON-escaped (``\\uXXXX``
per character in any mix and hex case, ``\\/``, surrogate pairs), URL-encoded (``%XX`` per UTF-8
byte, ``+`` for a space) and HTML/XML-escaped (``&amp;`` ...). The whole match becomes
``<redacted>``. Each secret is one regex of per-character alternations, compiled once; text with
nothing escaped or encoded in it (most text) takes a plain replace instead. No library decodes
while keeping positions to replace at, hence this hand-written matcher.

Which values are secrets: environment variables with key-like names (and each provider's
``api_key_env``), and the values of key-like query parameters of a base URL (``?api-key=...``).
Values shorter than 8 characters are not treated as secrets: hiding every "true" or "2024" would
make reports unreadable, and such values are not credentials.
"""

from __future__ import annotations

import io
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any, TextIO

REDACTED = "<redacted>"
#: The replacement inside HTML, XML and Markdown, where a bare ``<`` would be markup.
MARKUP_REDACTED = "&lt;redacted&gt;"
MIN_SECRET_LEN = 8

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|ORG_ID|PROJECT_ID|ORGANIZATION|PROJECT)$",
                          re.IGNORECASE)
_ALWAYS = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID")
#: Query parameter names that carry credentials (api-key, access_token, sig, code, ...).
_QUERY_SECRET_NAME = re.compile(
    r"(key|token|secret|passw(or)?d|pwd|sig(nature)?|code|auth\w*|credentials?|jwt|session)$",
    re.IGNORECASE)


# ---------------------------------------------------------------- which values are secrets

def env_secrets(extra_names: Iterable[str] = ()) -> dict[str, str]:
    """Values of key-like environment variables (8+ characters) -> the variable's name."""
    names = set(_ALWAYS) | set(extra_names)
    names |= {n for n in os.environ if _SECRET_NAME.search(n)}
    found: dict[str, str] = {}
    for name in sorted(names):
        value = os.environ.get(name, "")
        if len(value) >= MIN_SECRET_LEN:
            found.setdefault(value, name)
    return found


def is_secret_param(name: str) -> bool:
    """Whether a base URL's query parameter carries a credential, judged by its name."""
    return bool(_QUERY_SECRET_NAME.search(name))


def query_secrets(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Secret values among a base URL's query parameters -> where they came from (never the value)."""
    return {value: f"the base URL's query parameter {name!r}" for name, value in pairs
            if is_secret_param(name) and len(value) >= MIN_SECRET_LEN}


# ---------------------------------------------------------------- the matcher

_JSON_SHORT = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n",
               "\r": "\\r", "\t": "\\t"}
_HTML = {"&": ("&amp;", "&#38;", "&#x26;"), "<": ("&lt;", "&#60;", "&#x3c;"),
         ">": ("&gt;", "&#62;", "&#x3e;"), '"': ("&quot;", "&#34;", "&#x22;"),
         "'": ("&#x27;", "&#39;", "&apos;")}
#: Where an escaped or encoded form of anything could start; text without one holds secrets, if
#: at all, only raw (plus the short escapes and '+' added per secret set in ``_probes``).
_ESCAPES = (r"\\u[0-9a-fA-F]{4}", r"%[0-9a-fA-F]{2}", r"&#?\w+;")


def _any_case(text: str) -> str:
    """A regex matching ``text`` in either letter case, starting with a literal (fast to scan for)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in text)


def _hex(value: int, width: int) -> str:
    return _any_case(f"{value:0{width}x}")


def _char_forms(ch: str) -> str:
    """A regex matching one character of a secret in any of the forms it may be written in."""
    code = ord(ch)
    forms = [re.escape(ch)]
    if code > 0xFFFF:  # JSON writes astral characters as a surrogate pair
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        forms.append(f"\\\\u{_hex(high, 4)}\\\\u{_hex(low, 4)}")
    else:
        forms.append(f"\\\\u{_hex(code, 4)}")
    if ch in _JSON_SHORT:
        forms.append(re.escape(_JSON_SHORT[ch]))
    forms.append("".join(f"%{_hex(b, 2)}" for b in ch.encode("utf-8")))
    if ch == " ":
        forms.append(r"\+")
    forms += [_any_case(entity) for entity in _HTML.get(ch, ())]
    return "(?:" + "|".join(forms) + ")"


@lru_cache(maxsize=256)
def _compile(value: str) -> re.Pattern[str]:
    # One pattern per secret, not one alternation of all: a pattern whose first item is a set of
    # literals is scanned for in C (5 ns a character); an alternation of secrets is 5 times slower.
    return re.compile("".join(_char_forms(c) for c in value))


def _probes(values: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    """Fast tests for any escape that could hide one of ``values``: separate patterns, each with
    a literal prefix, because one alternation would try a match at every JSON backslash."""
    extra = {re.escape(_JSON_SHORT[c]) for v in values for c in v if c in _JSON_SHORT}
    if any(" " in v for v in values):
        extra.add(r"\+")
    return tuple(re.compile(p) for p in (*_ESCAPES, *sorted(extra)))


class Redactor:
    """Replaces every form of every secret it was built with; built once per set of secrets."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        #: secret value -> where it came from (an environment variable's name, a URL parameter)
        self.sources = {v: s for v, s in secrets.items() if v}
        # Longest first: a secret that contains another is replaced whole.
        self._values = sorted(self.sources, key=lambda v: (-len(v), v))
        self._patterns = [_compile(v) for v in self._values]
        self._probes = _probes(self._values) if self._values else ()
        #: The characters every escaped or encoded form starts with (each probe's first one):
        #: text with none of them holds secrets only raw, found by ``in`` at C speed.
        self._openers = ("\\", "%", "&", *(("+",) if any(" " in v for v in self._values) else ()))

    def __bool__(self) -> bool:
        return bool(self._values)

    def text(self, text: str, replacement: str = REDACTED) -> str:
        if not self._values or not text:
            return text
        if not self._escaped(text):  # plain replacing is then exact, and 20 times faster
            for value in self._values:
                if value in text:
                    text = text.replace(value, replacement)
            return text
        for pattern in self._patterns:
            text = pattern.sub(lambda _m: replacement, text)
        return text

    def _escaped(self, text: str) -> bool:
        """Whether ``text`` holds anything escaped or encoded that could hide a secret."""
        for opener in self._openers:
            if opener in text:
                break
        else:
            return False  # (most short strings: no regex search at all)
        for probe in self._probes:
            if probe.search(text):
                return True
        return False

    def value(self, value: Any) -> Any:
        """A copy with every string (keys included) redacted, through dicts, lists and tuples."""
        if not self._values:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(v) for v in value)
        return value

    def found_in(self, text: str) -> str | None:
        """The source of the first secret ``text`` holds in any form (for error messages), or None."""
        if not self._values or not text:
            return None
        plain = not self._escaped(text)
        for value, pattern in zip(self._values, self._patterns, strict=True):
            if (value in text) if plain else pattern.search(text):
                return self.sources[value]
        return None

    def plus(self, secrets: Mapping[str, str]) -> Redactor:
        """This redactor with more secrets (itself when it already knows them all)."""
        if all(v in self.sources for v in secrets if v):
            return self
        return _redactor(frozenset({**secrets, **self.sources}.items()))


@lru_cache(maxsize=64)
def _redactor(items: frozenset[tuple[str, str]]) -> Redactor:
    return Redactor(dict(items))


def redactor(secrets: Mapping[str, str]) -> Redactor:
    """The (cached) redactor for these secrets: value -> source."""
    return _redactor(frozenset((v, s) for v, s in secrets.items() if v))


# ---------------------------------------------------------------- the secrets this process knows

_lock = threading.Lock()
_registered: dict[str, str] = {}
_registered_env: set[str] = set()
_generation = 0
_last: tuple[Any, int, Redactor, dict[Any, Any]] | None = None


def register(secrets: Mapping[str, str] | None = None, env_names: Iterable[str] = ()) -> None:
    """Remember secrets found while planning (base URL credentials, a provider's api_key_env), so
    every later writer of this process hides them too. Secrets are never forgotten."""
    global _generation
    new = {v: s for v, s in secrets.items() if v and v not in _registered} if secrets else {}
    names = [n for n in env_names if n not in _registered_env]
    if not new and not names:  # the common case: planning registers the same names per case
        return
    with _lock:
        _registered.update(new)
        _registered_env.update(names)
        _generation += 1


def _environment() -> Mapping[Any, Any]:
    # CPython's raw mapping: comparing it with a copy costs 0.3 µs, decoding every name 80 µs.
    data = getattr(os.environ, "_data", None)
    return data if isinstance(data, dict) else dict(os.environ)


def current() -> Redactor:
    """The redactor for every secret known now: the environment's and the registered ones.

    Cached until the environment or the registered set changes, so a writer may call it per line
    and planning per case.
    """
    global _last
    environment, generation = _environment(), _generation
    last = _last
    if last is not None and last[1] == generation:
        if last[0] == environment:
            return last[2]
        view = _secret_view(environment)
        if view == last[3]:  # only variables that cannot name a secret changed (PYTEST_CURRENT_TEST,
            _last = (dict(environment), generation, last[2], view)  # which pytest sets per test)
            return last[2]
    with _lock:
        found = {**_registered, **env_secrets(_registered_env)}
    result = redactor(found)
    _last = (dict(environment), generation, result, _secret_view(environment))
    return result


def _secret_view(environment: Mapping[Any, Any]) -> dict[Any, Any]:
    """The variables env_secrets reads: two environments alike in these have the same secrets."""
    return {raw: value for raw, value in environment.items()
            if _may_name_secret(raw) or _decoded(raw) in _registered_env}


@lru_cache(maxsize=4096)
def _decoded(raw: Any) -> str:
    return os.fsdecode(raw) if isinstance(raw, bytes) else str(raw)


@lru_cache(maxsize=4096)
def _may_name_secret(raw: Any) -> bool:
    name = _decoded(raw)
    return name in _ALWAYS or bool(_SECRET_NAME.search(name))


def known(also: Redactor | None = None) -> Redactor:
    """Every secret known now, plus those of ``also``: a writer holding a redactor made earlier in
    the run (before the environment changed, say) loses none of them."""
    now = current()
    return now if also is None else also.plus(now.sources)


def clean(text: str, replacement: str = REDACTED) -> str:
    """``text`` with every known secret hidden: the call every writer of text makes."""
    return current().text(text, replacement)


class RedactingStream(io.TextIOBase):
    """A text stream that hides every known secret, then writes to the real stream.

    The target is looked up at each write (``sys.stdout`` may be swapped, e.g. by pytest's capture),
    unwrapping rich's stdout proxy so a live progress display cannot loop back into itself.
    """

    def __init__(self, target: Callable[[], TextIO]) -> None:
        super().__init__()
        self._target = target

    @classmethod
    def stdout(cls) -> RedactingStream:
        return cls(lambda: sys.stdout)

    @classmethod
    def stderr(cls) -> RedactingStream:
        return cls(lambda: sys.stderr)

    @property
    def target(self) -> TextIO:
        stream = self._target()
        return getattr(stream, "rich_proxied_file", stream)

    def write(self, text: str) -> int:
        self.target.write(clean(text))
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", None) or "utf-8"

    def writable(self) -> bool:
        return True
