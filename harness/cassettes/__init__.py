"""The only module that knows the cassette file format.

A cassette is a vcrpy version-1 YAML file (so plain vcrpy and pytest-recording can replay it), one
per case, made for review: bodies are pretty-printed JSON in literal blocks, and each interaction
carries a ``harness:`` block with the prompt and the answer as multi-line text, so a changed answer
is a few changed lines in ``git diff``. Only an allow-list of headers is kept, which is how no key,
cookie, date or request id can reach the file; any known secret value is also scrubbed from every
string, in every form it may be written in (redact.py: escaped in a JSON or SSE body, URL-encoded).
Writes are atomic (temp file + rename), and a re-recording that got the same answer leaves
the file untouched. Reading is defensive: whatever sits where a cassette should be (a folder, a
device, bytes that are not UTF-8 or YAML) is a UserError naming the file, for that case alone.

The package's other modules each do one part of that job for this one: parse.py and yaml_text.py
read and write the YAML, json_text.py the bodies, readable.py the review block, foreign.py what
vcrpy wrote, files.py the temp and lock files, names.py the file names, parse_cache.py the cache
of parsed files. This module imports them as it loads, so they never import from it at module
level (a cycle); prefetch.py, which it does not import, is the one that builds on it.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import re
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

from .. import __version__, redact
from ..errors import UserError
from ..request import canonical_form, request_key
from ..safe_files import is_inside
from . import parse, yaml_text
from .files import atomic_write, sweep_once
from .foreign import decoded, foreign_address, foreign_body
from .json_text import indented
from .parse_cache import CACHE
from .readable import answer_of, review_view

#: Headers worth keeping. content-type lets vcrpy's body matcher compare JSON bodies semantically;
#: everything else (auth, cookies, dates, ids, rate-limit counters, SDK fingerprints) is dropped.
KEPT_HEADERS = frozenset({"content-type"})
#: Facts about an interaction kept in its ``harness:`` block: whose request it was (the case's
#: own, or the judge's), whether it was recorded through the Batch API (for batch prices), and
#: for a case of several model calls, the step and the user turn it was (1-based).
EXTRA_KEYS = ("role", "batch", "step", "turn")
#: The largest cassette harness reads (images sent as data: URLs make big ones); a bigger file, or
#: a device such as /dev/zero linked in a cassette's place, is an error, not an endless read.
MAX_CASSETTE_BYTES = 256 * 1024 * 1024


@dataclass
class Interaction:
    """One recorded HTTP exchange, already stripped of everything volatile or secret."""

    method: str
    uri: str
    path: str
    query: dict[str, str]
    body: Any  # the request's JSON body
    status: int
    response_headers: dict[str, str]
    response_text: str  # JSON (pretty-printed) or server-sent events, decoded
    latency_ms: float | None = None
    ttft_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. {"role": "judge"}
    #: The request's key, worked out on first use (loading a cassette checks that every request
    #: can be keyed, and finding a case's step asks again). Not an argument: ``fields()`` is what
    #: makes an Interaction again (a scrubbed copy, the parse cache's entry).
    _key: str | None = field(default=None, init=False, repr=False, compare=False)
    #: The redactor that made this copy (``scrub_interaction``); None when nobody scrubbed it.
    _scrubbed_by: redact.Redactor | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def key(self) -> str:
        key = self._key
        if key is None:
            key = self._key = request_key(canonical_form(self.method, self.path, self.query, self.body))
        return key

    def fields(self) -> dict[str, Any]:
        """The values ``Interaction(**...)`` takes, without what is worked out from them."""
        return {name: getattr(self, name) for name in _FIELDS}

    def cache_entry(self) -> dict[str, Any]:
        """What the parse cache keeps: the fields and the key (a warm replay then hashes nothing)."""
        return {**self.fields(), _CACHED_KEY: self.key}

    @classmethod
    def from_cache_entry(cls, entry: dict[str, Any]) -> Interaction:
        fields = dict(entry)
        key = fields.pop(_CACHED_KEY, None)
        interaction = cls(**fields)
        interaction._key = key if isinstance(key, str) else None
        return interaction

    def same_exchange(self, other: Interaction) -> bool:
        """Equal request and answer; timing and server address do not count as a change."""
        return (self._unchained_key() == other._unchained_key() and self.status == other.status
                and answer_of(self.response_text) == answer_of(other.response_text)
                and self.response_headers == other.response_headers and self.extra == other.extra)


    def _unchained_key(self) -> str:
        """The request's key without ``previous_response_id``: in a chained episode (Responses API)
        that is the id of the step before, which the server makes up anew for every call like the
        answers' own ids, so re-recording the same episode must not rewrite its cassette for it.
        The step before is compared too, so a kept file stays a consistent chain."""
        body = self.body
        if isinstance(body, dict) and "previous_response_id" in body:
            body = {k: v for k, v in body.items() if k != "previous_response_id"}
        return request_key(canonical_form(self.method, self.path, self.query, body))


_FIELDS = tuple(f.name for f in dataclasses.fields(Interaction) if f.init)
_CACHED_KEY = "key"


def _pretty_body(text: str, content_type: str) -> str:
    if "json" in content_type:
        try:
            return indented(json.loads(text))
        except ValueError:
            return text
    return text


def scrub_interaction(interaction: Interaction, secrets: redact.Redactor | None = None) -> Interaction:
    """A copy with every secret value replaced, in the request and in the answer. The copy knows
    which redactor made it, so ``save`` does not walk it again with the same one."""
    redactor = redact.known(secrets)
    clean = Interaction(**redactor.value(interaction.fields()))
    clean._scrubbed_by = redactor
    return clean


def document(interactions: list[Interaction]) -> dict[str, Any]:
    """The cassette as data: vcrpy's version-1 layout, plus the readable ``harness:`` block."""
    items = []
    for it in interactions:
        content_type = it.response_headers.get("content-type", "application/json")
        items.append({
            "harness": review_view(it),
            "request": {
                "method": it.method,
                "uri": it.uri,
                "body": indented(it.body),
                "headers": {"content-type": ["application/json"]},
            },
            "response": {
                "status": {"code": it.status, "message": _reason(it.status)},
                "headers": {k: [v] for k, v in sorted(it.response_headers.items())},
                "body": {"string": _pretty_body(it.response_text, content_type)},
            },
        })
    return {"interactions": items, "version": 1}


def to_document(case_label: str, interactions: list[Interaction], rerecord: str) -> str:
    """The cassette's text: a header naming its case and how to re-record it, then the YAML."""
    header = (f"# harness {__version__} cassette for {case_label}\n"
              f"# Re-record: {rerecord}\n")
    return header + yaml_text.dump(document(interactions))


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def from_document(text: str, path: Path) -> list[Interaction]:
    """Parse a cassette written by harness (or by vcrpy / pytest-recording for the same requests)."""
    try:
        data = parse.parse(text)
        out = []
        for item in data["interactions"]:
            out.append(_interaction(item))
            out[-1].key  # noqa: B018 - a request that cannot be keyed fails here, not in find()
        return out
    except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise UserError(f"unreadable cassette ({type(exc).__name__}: {exc}); delete it and "
                        "re-record", file=str(path)) from None


_NUMBER_OR_NONE = (int, float, type(None))


def _interaction(item: dict[str, Any]) -> Interaction:
    req, resp, meta = item["request"], item["response"], dict(item.get("harness") or {})
    headers = {k.lower(): (v[0] if isinstance(v, list) else v)
               for k, v in (resp.get("headers") or {}).items()}
    resp_body = decoded(resp.get("body", {}).get("string", ""), headers.get("content-encoding"))
    for timing in ("latency_ms", "ttft_ms"):
        if not isinstance(meta.get(timing), _NUMBER_OR_NONE):
            raise TypeError(f"harness.{timing} is not a number")
    uri, raw_body = req["uri"], req.get("body")
    parts = urlsplit(uri)
    if meta:  # harness's own: the block says which path and query the request was keyed by
        api_path = str(meta.get("path") or parts.path)
        query = meta.get("query") or (dict(parse_qsl(parts.query)) if parts.query else {})
        # (not raw_body.strip(): that copies the whole body to learn whether it is blank)
        body = json.loads(raw_body) if isinstance(raw_body, str) and raw_body and not raw_body.isspace() \
            else raw_body
    else:
        api_path, query, uri = foreign_address(parts)
        body = foreign_body(raw_body)
    return Interaction(
        method=req["method"], uri=uri, path=api_path, query=dict(query), body=body,
        status=int(resp["status"]["code"]),
        response_headers={k: v for k, v in headers.items() if k in KEPT_HEADERS},
        response_text=resp_body, latency_ms=meta.get("latency_ms"),
        ttft_ms=meta.get("ttft_ms"), extra={k: meta[k] for k in EXTRA_KEYS if k in meta})


#: What a helper process already parsed for a cold replay (prefetch.py): the thread
#: that runs the replay, and the helper's ``take`` (``(value,)``, or None to read the file here).
_ahead: tuple[int, Callable[[Path], tuple[list[Interaction] | None] | None]] | None = None


def set_ahead(take: Callable[[Path], tuple[list[Interaction] | None] | None] | None) -> None:
    """Let ``load`` on this thread take cassettes from ``take`` first (None: stop)."""
    global _ahead
    _ahead = (threading.get_ident(), take) if take is not None else None


def load(path: Path, *, root: Path | None = None) -> list[Interaction] | None:
    """The case's interactions, or None when it has no cassette.

    Parsed YAML is cached under a hash of the file's bytes: reading them is cheap, parsing is what
    costs, and only the content tells whether a file changed (size and mtime can be kept by an edit).
    """
    ahead = _ahead
    if ahead is not None and ahead[0] == threading.get_ident():
        found = ahead[1](path)
        if found is not None:
            return found[0]
    data = _read(path, root)
    if data is None:
        return None
    digest = None
    if CACHE.active():  # a CI job's fresh checkout has no cache to read and writes none
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        cached = CACHE.get(path, digest)
        if cached is not None:
            return [Interaction.from_cache_entry(entry) for entry in cached]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"the cassette is not valid UTF-8 (byte {exc.start}); delete it and re-record",
                        file=str(path)) from None
    interactions = from_document(text, path)
    if digest is not None and CACHE.writing():
        CACHE.put(path, digest, [it.cache_entry() for it in interactions])
    return interactions


def read(path: Path) -> list[Interaction]:
    """A cassette named by the user (one to import), parsed without the cache: a missing file is
    an error here, not a case to record."""
    data = _read(path)
    if data is None:
        raise UserError("no such cassette", file=str(path))
    try:
        return from_document(data.decode("utf-8"), path)
    except UnicodeDecodeError as exc:
        raise UserError(f"the cassette is not valid UTF-8 (byte {exc.start})", file=str(path)) from None


def _read(path: Path, root: Path | None = None) -> bytes | None:
    """The cassette's bytes, None when there is none; only a regular file of bounded size.

    A cassette that is a symlink is read only when it leads to a file inside ``root`` (the suite's
    cassette folder's root): cassettes come with pull requests, and git stores symlinks.
    """
    # O_NONBLOCK: opening a FIFO put in a cassette's place must not wait for a writer.
    # O_NOFOLLOW: a symlink fails with ELOOP, and only then is its target checked (no cost
    # per cassette otherwise).
    flags = os.O_RDONLY | os.O_NONBLOCK
    try:
        fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise UserError(f"cannot read the cassette ({exc.strerror or exc})", file=str(path)) from None
        if root is not None and not is_inside(path, root):
            raise UserError(f"the cassette is a symlink leading outside {root}; cassettes are read "
                            "only inside their folder", file=str(path)) from None
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            return None
        except OSError as exc2:
            raise UserError(f"cannot read the cassette ({exc2.strerror or exc2})", file=str(path)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UserError("the cassette is not a regular file (a folder or a device is in its "
                            "place); remove it and re-record", file=str(path))
        # One raw read, no file object: this runs for every case of every replay. More only if
        # the file grew since fstat (a write in progress elsewhere is renamed in, never appended).
        data = os.read(fd, min(info.st_size, MAX_CASSETTE_BYTES) + 1)
        while info.st_size < len(data) <= MAX_CASSETTE_BYTES and (more := os.read(fd, 1 << 20)):
            data += more
    except OSError as exc:
        raise UserError(f"cannot read the cassette ({exc.strerror or exc})", file=str(path)) from None
    finally:
        os.close(fd)
    if len(data) > MAX_CASSETTE_BYTES:
        raise UserError(f"the cassette is larger than {MAX_CASSETTE_BYTES // 2**20} MiB, the most "
                        "harness reads", file=str(path))
    return data


def recorded_for(path: Path, *, root: Path) -> str | None:
    """The case a cassette says it was recorded for (its header's ``suite.yaml::case``; '' when it
    has no header, as one vcrpy wrote); None when ``path`` is not a cassette harness can read (a
    regular file inside ``root``, or a symlink to one). Not cached: what may be deleted as a
    cassette must be one, read now."""
    try:
        data = _read(path, root)
        if data is None:
            return None
        text = data.decode("utf-8")
        from_document(text, path)
    except (UserError, UnicodeDecodeError):
        return None
    found = _HEADER.match(text)
    return found[1] if found else ""


_HEADER = re.compile(r"# harness \S+ cassette for (.*)\n")


def flush_cache() -> None:
    CACHE.flush()


def steps_of(interactions: list[Interaction] | None) -> list[Interaction]:
    """The case's own model calls in its cassette, in order (judge exchanges left out)."""
    return [i for i in interactions or [] if not i.extra.get("role")]


def find(interactions: list[Interaction], key: str, role: str | None = None) -> Interaction | None:
    for it in interactions:
        if it.key == key and it.extra.get("role") == role:
            return it
    return None


@dataclass(frozen=True)
class OnDisk:
    """What is at a cassette's path now, as read by a caller that holds the cassette's lock since
    (None: no cassette). ``save`` compares with it instead of reading the file a third time: a
    recorded case has read its cassette before locking and again under the lock."""

    interactions: list[Interaction] | None


def save(path: Path, case_label: str, interactions: list[Interaction], *, rerecord: str,
         secrets: redact.Redactor | None = None, on_disk: OnDisk | None = None) -> bool:
    """Write atomically; return False (and leave the file alone) when nothing but timing changed."""
    secrets = redact.known(secrets)
    clean = [it if it._scrubbed_by is secrets else scrub_interaction(it, secrets) for it in interactions]
    if on_disk is not None:
        old = on_disk.interactions
    else:
        try:
            old = load(path, root=path.parent)  # never read through a symlink leading elsewhere
        except UserError:
            old = None
    if old is not None and len(old) == len(clean) and all(a.same_exchange(b) for a, b in zip(old, clean, strict=True)):
        return False
    text = secrets.text(to_document(case_label, clean, rerecord))
    atomic_write(path, text)
    sweep_once(path.parent)  # temp files a killed run (SIGKILL) left behind
    return True
