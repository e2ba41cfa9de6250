"""Reading the files a suite names: templates, message files, images, schema files, the suite itself.

A suite may come from a pull request, and git stores symlinks: a file named in a suite could point
at /etc/passwd or at a FIFO that blocks forever. So every such read goes through this module, which
resolves the real path, refuses anything outside the allowed folder (or inside a ``.git`` folder,
where CI keeps its credentials), opens without blocking, refuses anything but a regular file, and
reads at most a size cap. Errors name the file as the user wrote it, never its content.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import UserError

#: Templates, message files, schema files and suites: far above any real prompt.
TEXT_LIMIT = 16 * 1024 * 1024
#: Images sent as data: URLs (OpenAI accepts up to 20 MB per image).
IMAGE_LIMIT = 20 * 1024 * 1024

_MARKERS = ("pyproject.toml", ".git", "harness.yaml")


def project_root(suite_path: Path) -> Path:
    """The project a suite belongs to: the nearest folder above it holding pyproject.toml, .git
    or harness.yaml; without one, the current folder when the suite lies inside it, else the
    suite's own folder. Cassettes are written, and python: check modules imported, only inside it.

    Found from the path as written (made absolute, not resolved), so a suite reached through a
    symlink still belongs to the project it was named in."""
    suite = Path(os.path.abspath(suite_path))
    for parent in suite.parents:
        if any((parent / marker).exists() for marker in _MARKERS):
            return parent
    cwd = Path.cwd()
    return cwd if suite.is_relative_to(cwd) else suite.parent


def is_inside(path: Path, root: Path) -> bool:
    """Whether ``path``, every symlink followed, lies inside ``root`` (also resolved)."""
    real = Path(os.path.realpath(path))
    base = Path(os.path.realpath(root))
    return real.is_relative_to(base) and ".git" not in real.relative_to(base).parts


def contained(path: Path, root: Path, *, shown: str, what: str, where: str) -> Path:
    """The real path of ``path``, or a UserError when it leaves ``root`` (``where`` names it)."""
    if not is_inside(path, root):
        raise UserError(f"{what} {shown!r} is outside {where} (symlinks are followed; "
                        "files inside .git are never read)")
    return Path(os.path.realpath(path))


def state_dir(relative: Path) -> Path:
    """``relative`` (a folder under ``.harness/`` of the current folder) when writing there stays
    inside the current folder; a UserError when ``.harness`` or a folder in it is a symlink leading
    out (a pull request could commit one to make a run write elsewhere)."""
    if not is_inside(relative, Path.cwd()):
        raise UserError(f"{relative.as_posix()} leads outside {Path.cwd()} (a symlink?); harness "
                        "keeps its state only inside the folder it runs in")
    return relative


def read_bytes(path: Path, *, shown: str, what: str = "file", root: Path | None = None,
               where: str = "the suite's folder", limit: int = TEXT_LIMIT) -> bytes:
    """The bytes of a regular file inside ``root`` (any regular file when ``root`` is None)."""
    real = contained(path, root, shown=shown, what=what, where=where) if root is not None \
        else Path(os.path.realpath(path))
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(real, flags)
    except FileNotFoundError:
        raise UserError(f"{what} {shown!r} not found") from None
    except OSError as exc:
        raise UserError(f"cannot open {what} {shown!r}: {exc.strerror or type(exc).__name__}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO, socket or device"
            raise UserError(f"{what} {shown!r} is {kind}, not a regular file")
        if info.st_size > limit:
            raise UserError(f"{what} {shown!r} is larger than {limit // (1024 * 1024)} MB")
        # A regular file in non-blocking mode reads normally; the cap also holds if it grows now.
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise UserError(f"cannot read {what} {shown!r}: {exc.strerror or type(exc).__name__}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise UserError(f"{what} {shown!r} is larger than {limit // (1024 * 1024)} MB")
    return data


def read_text(path: Path, *, shown: str, what: str = "file", root: Path | None = None,
              where: str = "the suite's folder", limit: int = TEXT_LIMIT) -> str:
    """Like read_bytes, decoded as UTF-8 (a decoding error names the file, not the bytes)."""
    data = read_bytes(path, shown=shown, what=what, root=root, where=where, limit=limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{what} {shown!r} is not UTF-8 text (bad byte at offset {exc.start})") \
            from None


__all__ = ["IMAGE_LIMIT", "TEXT_LIMIT", "contained", "is_inside", "project_root", "read_bytes",
           "read_text", "state_dir"]
