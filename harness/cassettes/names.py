"""Cassette file and folder names that every common file system accepts.

Case ids grow with matrix values and models, and suite names are free text, but one file name holds
at most 255 bytes (ext4, APFS, NTFS, ...). A name that fits is kept as it is, so existing cassettes
keep their names; a longer one becomes a readable prefix plus a hash of the whole name, so two long
ids that share a prefix still get two files. The full id stays inside the cassette (its header
names the case), and the name is a pure function of the id, so replay finds the file again.
"""

from __future__ import annotations

import hashlib

#: The file-name limit of ext4, xfs, btrfs, APFS and NTFS (bytes, or UTF-16 units on NTFS).
MAX_NAME_BYTES = 255
#: Room kept after a case id for the largest sample suffix and the extension: ``#100.yaml``.
SAMPLE_SUFFIX_BYTES = len("#100.yaml")
_PREFIX_BYTES = 96
_HASH_CHARS = 16


def fitted(name: str, limit: int = MAX_NAME_BYTES) -> str:
    """``name`` itself when it fits in ``limit`` bytes, else ``<prefix>~<hash of name>``."""
    raw = name.encode("utf-8")
    if len(raw) <= limit:
        return name
    prefix = raw[:_PREFIX_BYTES].decode("utf-8", errors="ignore")
    return f"{prefix}~{hashlib.sha256(raw).hexdigest()[:_HASH_CHARS]}"


def sample_name(case_id: str, sample: int) -> str:
    """How a sample is named everywhere (terminal, reports, pytest, its cassette's file name):
    the first sample is the case id itself, extra samples add ``#<n>``, so a suite that adds
    ``samples:`` keeps the names (and cassettes) of its first samples."""
    return case_id if sample == 0 else f"{case_id}#{sample}"


def case_file_name(case_id: str, sample: int) -> str:
    """``<case-id>.yaml``, ``<case-id>#<n>.yaml`` for extra samples; every sample of one case is
    shortened alike, since the id alone decides (with room for the longest suffix)."""
    stem = fitted(case_id, MAX_NAME_BYTES - SAMPLE_SUFFIX_BYTES)
    return f"{sample_name(stem, sample)}.yaml"
