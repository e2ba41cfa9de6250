"""Cassettes parsed ahead by a helper process while a cold replay runs: a second core put to work.

Reading and parsing the cassettes is about a third of a cold replay (a CI job's fresh checkout has
no parse cache), and no thread can take it over: CPython's GIL is held while yaml_rs parses and
while Python values are built. So, on a machine with two or more cores, the run forks one helper
before it plans the cases, and the helper loads the cassettes in the order the run will want them
and sends each through a pipe (pickled: unpickling costs about a fifth of parsing). Loading is a
third of what a case costs, so the helper soon runs ahead and the run parses nothing itself. Should
the run catch up with it (large cassettes, a busy machine), the helper jumps ahead of the run
again, so that the two never parse the same cassettes for long.

The run never waits for the helper: a cassette is taken from it only if it has already arrived,
and otherwise read here exactly as without a helper. What the helper sends is what
``cassettes.load`` returned in it: the same code on the same bytes (a file it could not read is not
sent, so the run reads that one itself and reports its error, naming the file, as always). A
helper that dies, hangs or falls behind costs nothing but its own core.

It is used only where forking is safe and can pay (``wanted``): Linux, two or more CPUs this
process may run on, no other thread in the process (a fork copies only the calling thread, and
a lock another thread held would stay locked in the copy), at least ``MIN_CASES`` cassettes, and no
parse cache in use (a warm run reads parsed cassettes from it already; under CI=true, as in a
fresh checkout, the cache is off). ``HARNESS_NO_PREFETCH=1`` turns it off. The pipe is made here
and only the forked copy of this process writes to it, so unpickling what comes through it runs
nothing that process could not have run itself.
"""

from __future__ import annotations

import fcntl
import gc
import mmap
import os
import pickle
import select
import signal
import struct
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from .. import cassettes
from .parse_cache import CACHE

#: Below this many cassettes, forking (~10 ms with a large suite in memory) costs about what the
#: helper could save.
MIN_CASES = 400
#: Cassettes per message: small enough that the run finds them soon, large enough that pickling
#: and the pipe cost little per cassette.
_BATCH = 32
#: How far ahead of the run the helper starts again when the run has caught up with it.
_LEAD = 2 * _BATCH
#: How far ahead of the run the helper goes before it waits for the run: the parsed cassettes the
#: run has not taken yet are held in its memory (unbounded, 50,000 cases held ~40 MB more at once).
_MAX_AHEAD = 1024
#: How long the helper waits then before it looks at where the run is again (seconds).
_PAUSE = 0.002
#: The run reads the pipe at least every this many cassettes it takes.
_DRAIN_EVERY = 16
#: A cgroup v2 container's CPU quota: "max 100000", or "150000 100000" for one and a half CPUs.
CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
_HEADER = struct.Struct("<I")
_CURSOR = struct.Struct("<q")


class Replayed(Protocol):
    """What a helper needs of a case (suite.Case): where its cassette is, and whether it runs."""

    @property
    def cassette_path(self) -> Path: ...
    @property
    def cassette_root(self) -> Path: ...
    @property
    def skip(self) -> str | None: ...


def start_for(cases: Sequence[Replayed]) -> Prefetch | None:
    """A helper for the cassettes of a replay's ``cases``, in the order the replay runs them; None
    where ``wanted`` says no. The caller closes it when the replay ends."""
    running = [case for case in cases if not case.skip]
    if not wanted(len(running)):
        return None
    return Prefetch.fork([(case.cassette_path, case.cassette_root) for case in running])


def wanted(count: int) -> bool:
    """Whether a helper may be forked for a replay of ``count`` cassettes (see the module's text)."""
    return (count >= MIN_CASES and sys.platform.startswith("linux") and hasattr(os, "fork")
            and os.environ.get("HARNESS_NO_PREFETCH", "") in ("", "0")
            and not CACHE.active() and _single_threaded() and _cpus() >= 2)


def _single_threaded() -> bool:
    """No other thread in the process, counting those a C library started (Python's threading
    module knows only its own; Python 3.12 warns on forking beside any)."""
    if threading.active_count() != 1:
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _cpus() -> float:
    """The CPUs this process may use: its affinity, capped by a container's CPU quota (cgroup v2),
    where a helper would only take turns with the run on the same CPU."""
    count: float = len(os.sched_getaffinity(0))
    try:
        quota, period = CPU_MAX.read_text(encoding="ascii").split()[:2]
        if quota != "max":
            count = min(count, int(quota) / int(period))
    except (OSError, ValueError):
        pass
    return count


class Prefetch:
    """The run's side of one helper: ``take`` a cassette it parsed, ``close`` when the run ends."""

    def __init__(self, pid: int, reader: int, index: dict[str, int], cursor: mmap.mmap) -> None:
        self._pid: int | None = pid
        self._reader = reader
        self._index = index  # str(cassette path) -> its position in the run's order
        self._cursor = cursor  # shared with the helper: the position the run has reached
        self._buffer = bytearray()
        self._parsed: dict[int, list[cassettes.Interaction] | None] = {}
        self._ended = False
        self._takes = 0
        self.served = 0  # cassettes taken from the helper (the tests look)

    @classmethod
    def start(cls, jobs: Sequence[tuple[Path, Path | None]]) -> Prefetch | None:
        """Fork a helper for the cassettes of ``jobs`` (path and its folder's root, in the order
        the run will load them); None when ``wanted`` says no or the fork fails."""
        return cls.fork(jobs) if wanted(len(jobs)) else None

    @classmethod
    def fork(cls, jobs: Sequence[tuple[Path, Path | None]]) -> Prefetch | None:
        """``start`` once ``wanted`` has said yes; None when the fork fails."""
        cursor = mmap.mmap(-1, _CURSOR.size)  # anonymous and shared: the helper sees the run's writes
        _CURSOR.pack_into(cursor, 0, -1)
        reader, writer = os.pipe()
        run = os.getpid()
        try:
            pid = os.fork()
        except OSError:
            os.close(reader)
            os.close(writer)
            return None
        if pid == 0:  # the helper: never returns, never runs the caller's code or exit handlers
            try:
                os.close(reader)
                _helper(jobs, writer, cursor, run)
            finally:
                os._exit(0)
        os.close(writer)
        os.set_blocking(reader, False)
        helper = cls(pid, reader, {str(path): i for i, (path, _root) in enumerate(jobs)}, cursor)
        cassettes.set_ahead(helper.take)  # for this thread: the one that replays
        return helper

    def take(self, path: Path) -> tuple[list[cassettes.Interaction] | None] | None:
        """``(what cassettes.load returned for path,)`` if the helper sent it, else None."""
        position = self._index.get(str(path))
        if position is None:
            return None
        _CURSOR.pack_into(self._cursor, 0, position)
        self._takes += 1
        # Read the pipe when this one has not come yet, and now and then anyway, so that the helper
        # is not held up by a full pipe while it is ahead.
        if not self._ended and (position not in self._parsed or self._takes % _DRAIN_EVERY == 0):
            self._receive()
        if position not in self._parsed:
            return None
        self.served += 1
        return (self._parsed.pop(position),)

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the helper to send all it will; True if it has. The
        run itself never waits: this is for tools and tests that want every cassette it can give."""
        deadline = time.monotonic() + timeout
        while not self._ended:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            select.select([self._reader], [], [], remaining)
            self._receive()
        return True

    def _receive(self) -> None:
        """Read what the pipe holds now, without waiting, and unpickle the whole messages."""
        while True:
            try:
                chunk = os.read(self._reader, 1 << 20)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:  # the helper is done (or gone)
                self._ended = True
                break
            self._buffer += chunk
        buffer, start = self._buffer, 0
        while len(buffer) - start >= _HEADER.size:
            size = _HEADER.unpack_from(buffer, start)[0]
            end = start + _HEADER.size + size
            if end > len(buffer):
                break
            batch: list[tuple[int, list[cassettes.Interaction] | None]] = pickle.loads(
                buffer[start + _HEADER.size:end])
            self._parsed.update(batch)
            start = end
        del buffer[:start]

    def close(self) -> None:
        """Stop the helper (if it has not stopped by itself) and reap it."""
        pid, self._pid = self._pid, None
        if pid is None:
            return
        cassettes.set_ahead(None)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        os.close(self._reader)
        self._cursor.close()
        self._parsed.clear()


def _helper(jobs: Sequence[tuple[Path, Path | None]], writer: int, cursor: mmap.mmap, run: int) -> None:
    """The helper's work: load the cassettes in the run's order, staying ahead of the run. It ends
    when the run's process is gone (killed before it could stop the helper), rather than wait on."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle; it stops this one
    # It prints nothing: whoever reads the run's output (a CI log, a pipe) must not wait for it too.
    quiet = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(quiet, fd)
    cassettes.set_ahead(None)  # this process reads every file itself
    gc.freeze()  # the run's objects, shared with it page by page, are never walked by the collector here
    _widen(writer)
    batch: list[tuple[int, Any]] = []
    position = 0
    while position < len(jobs) and os.getppid() == run:
        reached = _CURSOR.unpack_from(cursor, 0)[0]
        if reached >= position:  # the run has read this one itself: go on from ahead of it
            if batch:
                _send(writer, batch)
                batch = []
            position = reached + _LEAD
            continue
        if position - reached > _MAX_AHEAD:  # far enough: what the run holds unread stays small
            if batch:
                _send(writer, batch)
                batch = []
            time.sleep(_PAUSE)
            continue
        path, root = jobs[position]
        position += 1
        try:
            value = cassettes.load(path, root=root)
        except Exception:  # noqa: BLE001 - not sent: the run reads this file and reports why
            continue
        batch.append((position - 1, value))
        if len(batch) >= _BATCH:
            _send(writer, batch)
            batch = []
    if batch:
        _send(writer, batch)


def _widen(writer: int) -> None:
    """A pipe of 1 MiB where Linux allows it (64 KiB by default, about one message): the helper
    can then run further ahead before it waits for the run to read."""
    try:
        fcntl.fcntl(writer, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except OSError:
        pass


def _send(writer: int, batch: list[tuple[int, Any]]) -> None:
    data = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(writer, view):]
