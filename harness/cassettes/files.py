"""The files harness keeps beside a cassette while it writes one: a temp file and a lock.

Temp file: a cassette is written to a temp file in its own folder, then renamed over the old one, so
a reader sees the old file or the new one, never half of one. A SIGKILL between the two leaves the
temp file behind; the next run that writes in the folder sweeps it. Every such file carries
harness's own prefix and its writer's host and pid (``.harness-tmp-<host>-<pid>-<random>.tmp``):
the sweep deletes only harness's files, never another program's ``.something.tmp``, and deletes
them at once when their writer is dead, or after ``STALE_AFTER_S`` when it cannot tell (a pid of
another host, or a pid that was reused).

Lock: two processes recording the same suite (two terminals, pytest-xdist workers, CI jobs sharing
a folder) must not both send a case: the first one to lock the cassette records it, the other
finds the cassette after the lock and replays it. ``flock`` on ``.harness-lock-<hash>`` beside the
cassette, so every process sees the same lock whatever its working folder; the holder removes the
file when done, and a process that locked a file someone removed meanwhile tries again (the usual
way to delete lock files safely), so a finished run leaves no lock file behind. A recording run
unlocks each case's file when the case is done but removes the files it made only when the run
ends (``LeftLocks``): on an ext4 file system without a journal, creating a file skips every inode
freed in the last minutes, one by one, so a lock file removed per case made each later file
creation slower (a third of a recording's CPU on such a machine after a few thousand cases).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import itertools
import os
import re
import secrets
import tempfile
import threading
import time
from pathlib import Path

TEMP_PREFIX = ".harness-tmp-"
LOCK_PREFIX = ".harness-lock-"
#: Age after which a temp file goes even when its writer may be alive: a write takes milliseconds.
STALE_AFTER_S = 600.0
_HOST = hashlib.sha1(os.uname().nodename.encode()).hexdigest()[:8]
_TEMP = re.compile(re.escape(TEMP_PREFIX) + r"([0-9a-f]{8})-(\d+)-.*\.tmp\Z")


def temp_prefix(pid: int | None = None) -> str:
    return f"{TEMP_PREFIX}{_HOST}-{os.getpid() if pid is None else pid}-"


def temp_name(pid: int | None = None) -> str:
    """A temp file name as harness makes them (``pid`` defaults to this process)."""
    return f"{temp_prefix(pid)}{secrets.token_hex(4)}.tmp"


_serial = itertools.count()  # next() on it is atomic under the GIL: one name per write
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _open_temp(folder: Path) -> tuple[int, str]:
    """A new temp file in ``folder``, made by one ``open`` (mode 0600, as ``mkstemp`` makes it).

    Its name is this process's prefix and a serial number: unique among this process's writes,
    and a leftover of a dead process that had the same pid is skipped by O_EXCL. Not
    ``tempfile.mkstemp``: its random names and path checks cost more than the write itself.
    """
    prefix = os.path.join(folder, temp_prefix())
    for _ in range(100):
        name = f"{prefix}{next(_serial):x}.tmp"
        try:
            return os.open(name, _NEW_FILE, 0o600), name
        except FileExistsError:
            continue
    return tempfile.mkstemp(prefix=temp_prefix(), suffix=".tmp", dir=folder)


def atomic_write(path: Path, text: str) -> None:
    """Temp file in the same folder, fsync, rename: readers see the old file or the new one.

    The fsync is what makes "a crash never leaves half a cassette" hold for a crash of the machine
    too (power loss, kernel panic): without it the rename can reach the disk before the data, and
    the cassette comes back empty. Plain ``os`` calls on the encoded bytes rather than a text file
    object, and the folder made only when it is missing: a recording run writes a cassette per case
    from 32 threads, and every system call hands the GIL over (a file object adds a stat, an ioctl
    and two seeks to the write; ``mkdir(exist_ok=True)`` a mkdir and a stat).
    """
    data = text.encode("utf-8")
    try:
        fd, tmp = _open_temp(path.parent)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _open_temp(path.parent)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _writer_gone(host: str, pid: int) -> bool:
    if host != _HOST or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: alive, another user's
        return False
    return False


_swept: set[Path] = set()
_swept_lock = threading.Lock()


def sweep_once(folder: Path) -> None:
    """Sweep ``folder`` the first time this process writes there. Once, because listing a folder
    of 10,000 cassettes before every write would make recording quadratic."""
    with _swept_lock:
        if folder in _swept:
            return
        _swept.add(folder)
    sweep(folder)


def forget_sweeps() -> None:
    """Sweep again on the next write (a long-lived process, or a test)."""
    with _swept_lock:
        _swept.clear()


def sweep(folder: Path) -> None:
    """Delete harness's temp files whose writer is dead (or that are stale) and free lock files."""
    cutoff = time.time() - STALE_AFTER_S
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.name.startswith(TEMP_PREFIX):
                match = _TEMP.match(entry.name)
                if (match is not None and _writer_gone(match[1], int(match[2]))) \
                        or entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
            elif entry.name.startswith(LOCK_PREFIX) and entry.is_file(follow_symlinks=False):
                lock = _FileLock(Path(entry.path))
                if lock.try_acquire():
                    lock.release()  # held by nobody: a killed run's; releasing removes it
        except OSError:
            continue


class _FileLock:
    """flock on a lock file that its holder deletes on release."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        # O_NOFOLLOW: a lock file committed as a symlink must not make harness create or open a
        # file elsewhere (ELOOP: the case fails with that error, nothing is written).
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        try:  # the holder before us may have removed the file: then this lock guards nothing
            mine, there = os.fstat(fd), os.stat(self.path)
            same = (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            return False
        self._fd = fd
        return True

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self, *, remove: bool = True) -> None:
        """Unlock; ``remove`` deletes the file first, while still holding it, so nobody locks a
        file on its way out."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if remove:
            try:
                os.unlink(self.path)
            except OSError:
                pass
        os.close(fd)


class LeftLocks:
    """The lock files a run unlocked but kept, removed together when the run ends.

    Each is removed only if nobody holds it then (another process waiting for the same case
    may have locked it since: that process removes it when done, as every holder does).
    """

    def __init__(self) -> None:
        self._paths: list[Path] = []
        self._lock = threading.Lock()

    def add(self, path: Path) -> None:
        with self._lock:
            self._paths.append(path)

    def remove(self) -> None:
        with self._lock:
            paths, self._paths = self._paths, []
        for path in dict.fromkeys(paths):
            lock = _FileLock(path)
            try:
                if lock.try_acquire():
                    lock.release()
            except OSError:
                continue  # the folder is gone, or the file is not ours to open: nothing to tidy


class CassetteLock:
    """An exclusive lock on one cassette, across threads and processes."""

    def __init__(self, cassette: Path, stop: threading.Event | None = None, *,
                 left: LeftLocks | None = None) -> None:
        self._cassette = cassette
        self._stop = stop or threading.Event()
        self._left = left  # set: the file stays after release, and is removed when the run ends
        self._lock: _FileLock | None = None  # made on acquire: replay never pays for it

    def acquire(self) -> bool:
        """Wait for the lock; False when the run is stopped first. Raises OSError when the
        cassette's folder cannot hold a lock file (then it could not hold the cassette either)."""
        folder = self._cassette.parent
        if folder not in _swept:  # the first lock in a folder this run: make it, sweep it
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except FileExistsError:
                raise NotADirectoryError(errno.ENOTDIR, "a file is in the way of the cassette folder",
                                         str(folder)) from None
            sweep_once(folder)
        digest = hashlib.sha1(self._cassette.name.encode("utf-8")).hexdigest()[:16]
        self._lock = _FileLock(folder / f"{LOCK_PREFIX}{digest}")
        delay = 0.005
        while not self._try_acquire(self._lock):
            if self._stop.wait(delay):
                return False
            delay = min(delay * 2, 0.1)
        return True

    def _try_acquire(self, lock: _FileLock) -> bool:
        """One try; a folder removed since this run first made it is made again."""
        try:
            return lock.try_acquire()
        except FileNotFoundError:
            with _swept_lock:
                _swept.discard(self._cassette.parent)
            self._cassette.parent.mkdir(parents=True, exist_ok=True)
            return lock.try_acquire()

    @property
    def held(self) -> bool:
        """Whether this process holds the lock now (no other harness writes the cassette)."""
        return self._lock is not None and self._lock.held

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is None:
            return
        if self._left is None:
            lock.release()
        else:
            held = lock.held
            lock.release(remove=False)
            if held:
                self._left.add(lock.path)
