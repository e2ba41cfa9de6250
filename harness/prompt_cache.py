"""Which input tokens OpenAI's prompt cache would serve, over the calls of a plan in their order.

OpenAI caches prompt prefixes on its own (no flag): a request of at least 1,024 tokens whose
beginning repeats one the same organisation sent shortly before (minutes) is billed at the cached
input price for the repeated part, counted from 1,024 tokens up in steps of 128 tokens
(platform.openai.com/docs/guides/prompt-caching). So a suite whose cases share a long system
prompt, tools or documents, the samples of one case, and the later steps of an episode (each
repeats the conversation so far) pay less than their token count says.

The simulation: each call's prompt is one token sequence (estimate.prompt_ids); a call is served
from the cache as far as its longest 128-token-aligned prefix (at least 1,024 tokens) that an
earlier call of the same model and provider had. It is a best case: calls sent at the same time
do not find each other's prefix yet (the run sends up to ``--concurrency`` at once), and a cache
entry lives only minutes. Keys are hashes of whole prefixes, so the cost is linear in the tokens.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Hashable, Sequence

#: Shorter prompts are never cached.
MIN_TOKENS = 1024
#: Cached prefixes grow in steps of this many tokens.
STEP_TOKENS = 128


class PromptCache:
    """The prefixes sent so far, per model and provider."""

    def __init__(self) -> None:
        self._seen: dict[Hashable, set[bytes]] = {}

    def serve(self, key: Hashable, ids: Sequence[int]) -> int:
        """How many of the call's prompt tokens the cache serves; then remember its prefixes."""
        seen = self._seen.setdefault(key, set())
        digest = hashlib.blake2b(digest_size=16)
        served, matching = 0, True
        new: list[bytes] = []
        for end in range(STEP_TOKENS, len(ids) + 1, STEP_TOKENS):
            digest.update(array("I", [i & 0xFFFFFFFF for i in ids[end - STEP_TOKENS:end]]).tobytes())
            if end < MIN_TOKENS:
                continue
            prefix = digest.copy().digest()
            if matching and prefix in seen:
                served = end  # a longer shared prefix implies every shorter one
            else:
                matching = False
                new.append(prefix)
        seen.update(new)
        return served
