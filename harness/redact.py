"""Which values are secrets: every key the run could send, found in the environment.

Cassettes keep only allow-listed headers, so keys cannot arrive through headers; this list catches
the rest (a key echoed in an error message, pasted into a prompt, or embedded in a URL).
"""

from __future__ import annotations

import os
import re
from typing import Iterable

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|ORG_ID|PROJECT_ID|ORGANIZATION|PROJECT)$",
                          re.IGNORECASE)
_ALWAYS = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID")


def secret_values(extra_env_names: Iterable[str] = ()) -> list[str]:
    """Values of key-like environment variables (8+ characters), longest first."""
    names = set(_ALWAYS) | set(extra_env_names)
    names |= {n for n in os.environ if _SECRET_NAME.search(n)}
    values = {os.environ[n] for n in names if len(os.environ.get(n, "")) >= 8}
    return sorted(values, key=len, reverse=True)


def redact_text(text: str, secrets: Iterable[str]) -> str:
    for s in secrets:
        if s and s in text:
            text = text.replace(s, "<redacted>")
    return text
