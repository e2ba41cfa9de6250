"""A JSON cache of parsed cassettes, so a repeated replay skips YAML parsing.

Parsing YAML is most of what a replay costs (about 0.2 ms per cassette with libyaml; JSON is about
17 times faster). Entries are keyed by the cassette's path and a hash of its bytes, so an edited or
re-recorded cassette is parsed again, even when an edit kept its size and modification time. The cache lives in ``.harness/cache/`` of the
folder harness runs in (keep ``.harness/`` out of git); it is JSON, never pickle, so a cache file
can at worst hold a wrong answer — as a cassette could — never run code. Set HARNESS_NO_CACHE=1
to bypass it. Under CI=true it is read but not written: a CI job starts from a fresh checkout and
throws its folder away, so a cache it wrote would never be read, and writing it costs about as
much as the fast cassette loader (parse.py) saves on such a cold run (0.5 s of CPU per
5,000 cassettes). Elsewhere it still pays: a repeated replay of 5,000 or 10,000 cases costs
13-16% less CPU with it than a replay parsing every cassette with the fast loader.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from .. import __version__, redact
from ..errors import UserError
from ..safe_files import state_dir
from .files import atomic_write, sweep_once

CACHE_DIR = Path(".harness") / "cache"
_FORMAT = f"harness-parse-cache/3/{__version__}"


class ParseCache:
    """Folder -> {file name: (hash of the bytes, parsed value)}; loaded lazily, written by flush()."""

    def __init__(self, root: Path = CACHE_DIR) -> None:
        self.root = root
        self.enabled = os.environ.get("HARNESS_NO_CACHE", "") in ("", "0")
        self._folders: dict[Path, dict[str, list[Any]]] = {}
        self._dirty: set[Path] = set()
        self._holds = 0
        self._active: bool | None = None
        self._lock = threading.Lock()

    def _file_for(self, folder: Path) -> Path:
        return self.root / (hashlib.sha1(str(folder).encode()).hexdigest()[:20] + ".json")

    def _usable(self) -> bool:
        """A cache folder that a symlink leads out of the current folder is neither read nor
        written: the cache is an optimisation, so it is skipped, not an error."""
        try:
            state_dir(self.root)
        except UserError:
            return False
        return True

    def _entries(self, folder: Path) -> dict[str, list[Any]]:
        entries = self._folders.get(folder)
        if entries is None:
            entries = {}
            if not self._usable():
                self.enabled = False
                self._folders[folder] = entries
                return entries
            try:
                data = json.loads(self._file_for(folder).read_text(encoding="utf-8"))
                if data.get("format") == _FORMAT and data.get("folder") == str(folder):
                    entries = data["entries"]
            except (OSError, ValueError, KeyError, AttributeError):
                pass
            self._folders[folder] = entries
        return entries

    def active(self) -> bool:
        """Whether get() may find anything or put() keep anything. Under CI=true with no cache
        folder (a fresh checkout) neither can, and a cold replay skips hashing each cassette and
        looking it up. Worked out once until the next flush() (the end of a run): an answer gone
        stale meanwhile (CI unset, a cache folder made by another process) only means a cassette
        parsed rather than looked up, or not kept; never a different answer."""
        active = self._active
        if active is None:
            active = self._active = self.enabled and (self.writing() or os.path.isdir(self.root))
        return active

    def get(self, path: Path, digest: str) -> Any | None:
        if not self.enabled:
            return None
        with self._lock:
            hit = self._entries(_resolved(path.parent)).get(path.name)
        if isinstance(hit, list) and len(hit) == 2 and hit[0] == digest:
            return hit[1]
        return None

    def writing(self) -> bool:
        """Whether put() keeps anything (asked first, so nothing is built for it on CI)."""
        return self.enabled and os.environ.get("CI", "").strip().lower() not in ("1", "true", "yes")

    def put(self, path: Path, digest: str, value: Any) -> None:
        if not self.writing():
            return
        folder = _resolved(path.parent)
        with self._lock:
            self._entries(folder)[path.name] = [digest, value]
            self._dirty.add(folder)

    def hold(self) -> None:
        """Defer flush() until the matching release().

        A caller that replays one case at a time (the pytest door runs one case per item) would
        otherwise rewrite the folder's whole file after every case: quadratic in the folder's
        cassettes on a cold run. Holding writes each folder once, at release.
        """
        with self._lock:
            self._holds += 1

    def release(self) -> None:
        with self._lock:
            self._holds = max(self._holds - 1, 0)
            held = self._holds > 0
        if not held:
            self.flush()

    def flush(self) -> None:
        """Write the folders that gained entries; a cache that cannot be written is skipped."""
        with self._lock:
            self._active = None
            if self._holds:
                return
            dirty, self._dirty = self._dirty, set()
            snapshot = {folder: dict(self._folders[folder]) for folder in dirty}
        for folder, entries in snapshot.items():
            text = json.dumps({"format": _FORMAT, "folder": str(folder), "entries": entries},
                              ensure_ascii=False, separators=(",", ":"))
            if not self._usable():
                return
            try:
                atomic_write(self._file_for(folder), redact.clean(text))
                sweep_once(self.root)
            except OSError:
                continue


@lru_cache(maxsize=1024)
def _resolved(folder: Path) -> Path:
    return folder.resolve()


CACHE = ParseCache()
