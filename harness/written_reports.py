"""Which files harness's own reports wrote inside a project, so a shard's fingerprint can leave them out.

A shard fingerprints every file below its suites' folders (shard.source_files), since a template
may include any file there. A report written there (``--report junit=suites/junit.xml``) by one
shard, before another shard of the same checkout starts, is not something cases are made from, yet
it would part the two shards as different checkouts. Guessing reports by name or extension cannot
work (a template may be ``prompt.md``), and sniffing each format's first bytes ties the fingerprint
to every writer's layout. So the writer says it: each report file written inside a project is noted
in ``.harness/reports-written`` at the project root (a hidden folder, never fingerprinted) with its
sha256, and a file counts as a report only while its bytes are still those harness wrote (edited by
hand, it is a source again). Shards on separate machines share nothing and need nothing: their
checkouts have no reports in them.

Notes are kept only inside the project (``.harness`` a symlink leading out is neither written nor
read), appended one line each (``O_APPEND``: shards of one checkout finishing together do not
interleave); a note that cannot be written only makes a later shard count that report as a source,
so the merge refuses rather than joins.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .safe_files import is_inside, project_root

NOTES = Path(".harness") / "reports-written"
#: Past this size the notes are rewritten with the newest note of each path only.
_COMPACT_AT = 256 * 1024


def digest_of(path: Path) -> str:
    """The ``sha256:`` digest the shard fingerprint uses for a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def note(path: Path) -> None:
    """Note ``path`` (just written by a report) as harness's, under its project's root."""
    try:
        absolute = Path(os.path.abspath(path))
        root = project_root(absolute)
        relative = absolute.relative_to(root).as_posix()
        line = f"{digest_of(absolute)}\t{relative}\n".encode()
        notes = root / NOTES
        if not is_inside(notes, root):  # .harness a symlink leading out: never written through
            return
        notes.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(notes, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        if notes.stat().st_size > _COMPACT_AT:
            _compact(notes)
    except (OSError, ValueError):  # not inside its project, or not writable: see the module's docstring
        return


def written(root: Path) -> frozenset[tuple[str, str]]:
    """Every (path relative to ``root``, sha256) a report of this project wrote."""
    if not is_inside(root / NOTES, root):
        return frozenset()
    try:
        text = (root / NOTES).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    found = (line.split("\t", 1) for line in text.splitlines())
    return frozenset((parts[1], parts[0]) for parts in found if len(parts) == 2)


def _compact(notes: Path) -> None:
    """Keep the newest note of each path: a report rewritten on every run would grow them forever."""
    newest: dict[str, str] = {}
    for line in notes.read_text(encoding="utf-8", errors="replace").splitlines():
        digest, _, relative = line.partition("\t")
        if relative:
            newest[relative] = digest
    temporary = notes.with_name(f"{notes.name}.{os.getpid()}.tmp")
    temporary.write_text("".join(f"{d}\t{r}\n" for r, d in newest.items()), encoding="utf-8")
    os.replace(temporary, notes)
