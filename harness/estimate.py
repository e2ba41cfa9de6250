"""What one model call will cost, estimated before it is sent: the one estimate that ``harness
plan`` shows and that ``--max-cost`` reserves, so a plan's figures are the budget's.

Input tokens are counted with tiktoken over the rendered request, as tokens.py counts them (the
model's own encoding when it is available offline, else a stand-in that is said to be one).

Output tokens cannot be known before the answer, so two figures are kept:

- ``output_tokens``, the expected length: the request's ``max_tokens`` / ``max_completion_tokens``
  / ``max_output_tokens`` when it sets one (the answer may be shorter: this errs high); else the
  answer its cassette already holds, when the call is a re-recording; else ``DEFAULT_ANSWER_TOKENS``,
  an assumption that ``harness plan`` shows as one.
- ``output_ceiling``, the most the call can cost: the request's own limit, else the model's output
  limit (tokens.LIMITS), else ``DEFAULT_ANSWER_TOKENS``. ``--max-cost`` reserves at this figure, so
  a run kept within a budget cannot overspend on a call whose answer is capped; the reservation is
  replaced by the real cost when the answer arrives.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .output import Output, Usage
from .pricing import PriceTable
from .request import Request
from .tokens import IMAGE_TOKENS, PER_MESSAGE, REPLY_PRIMING, count_prompt_tokens, encoder_for, limits_for

#: The answer length assumed when nothing says better: no limit in the request, no recorded
#: answer, and (for the ceiling) no known output limit of the model.
DEFAULT_ANSWER_TOKENS = 1024
_OUTPUT_KEYS = ("max_completion_tokens", "max_tokens", "max_output_tokens")


@dataclass(frozen=True)
class CallEstimate:
    """One call's tokens: input, expected output (and what that expectation rests on), the most
    output it may take, and how much of its input a prompt cache would serve (prompt_cache.py)."""

    input_tokens: int
    output_tokens: int
    output_basis: str  # "max_tokens" (the request's own limit), "recorded" or "assumed"
    output_ceiling: int
    cached_tokens: int = 0

    def usage(self, *, cached: bool = False, ceiling: bool = False) -> Usage:
        out = self.output_ceiling if ceiling else self.output_tokens
        return Usage(self.input_tokens, out, self.input_tokens + out,
                     cached_tokens=self.cached_tokens if cached else 0)


def requested_output(*bodies: dict[str, Any]) -> int | None:
    """The output limit a request sets itself, in its suite form or on the wire."""
    for body in bodies:
        for key in _OUTPUT_KEYS:
            value = body.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None


def output_ceiling(requested: int | None, model: str) -> int:
    if requested is not None:
        return requested
    limits = limits_for(model)
    return limits.output if limits is not None else DEFAULT_ANSWER_TOKENS


def _expected(requested: int | None, recorded: Output | None) -> tuple[int, str]:
    if requested is not None:
        return requested, "max_tokens"
    if recorded is not None and recorded.usage is not None and recorded.error is None:
        return recorded.usage.completion_tokens, "recorded"
    return DEFAULT_ANSWER_TOKENS, "assumed"


def estimate_request(request: Request, model: str, recorded: Output | None = None) -> CallEstimate:
    """A call about to be sent; ``recorded`` is the answer its cassette holds for it, if any."""
    requested = requested_output(request.body, request.wire)
    expected, basis = _expected(requested, recorded)
    prompt = count_prompt_tokens(request.body, model=model).tokens
    return CallEstimate(prompt, expected, basis, output_ceiling(requested, model))


def estimate_recorded(body: Any, model: str, recorded: Output) -> CallEstimate:
    """A later step of an episode, estimated from the step its cassette holds (its request as it
    was sent, and its answer): the steps a re-recording will take are known only from the last one.
    A Responses request chained by ``previous_response_id`` is billed for the whole conversation
    the server keeps, which its body does not show: its recorded usage says what it was."""
    body = body if isinstance(body, dict) else {}
    requested = requested_output(body)
    expected, basis = _expected(requested, recorded)
    if body.get("previous_response_id") and recorded.usage is not None:
        prompt = recorded.usage.prompt_tokens
    else:
        prompt = wire_prompt_tokens(body, model)
    return CallEstimate(prompt, expected, basis, output_ceiling(requested, model))


def wire_prompt_tokens(body: dict[str, Any], model: str) -> int:
    """Prompt tokens of a body as sent: chat as tokens.py counts it; a Responses body by its
    items, with the same per-message overhead."""
    if "messages" in body:
        return count_prompt_tokens(body, model=model).tokens
    encode, _name, _exact = encoder_for(model)
    items = body.get("input")
    count = len(items) if isinstance(items, list) else 1
    return len(prompt_ids(body, encode)) + PER_MESSAGE * count + REPLY_PRIMING


def cost(estimate: CallEstimate, model: str, prices: PriceTable, *, batch: bool = False,
         cached: bool = False, ceiling: bool = False) -> float | None:
    """USD for the call (None when the model has no price: never $0)."""
    return prices.cost(model, estimate.usage(cached=cached, ceiling=ceiling), batch=batch)


def reservation(request: Request, model: str, prices: PriceTable, *, batch: bool = False) -> float | None:
    """What ``--max-cost`` reserves before sending ``request``: its cost at the output ceiling."""
    return cost(estimate_request(request, model), model, prices, batch=batch, ceiling=True)


# ---------------------------------------------------------------- the prompt as a token sequence

def prompt_ids(body: dict[str, Any], encode: Callable[[str], list[int]]) -> list[int]:
    """The prompt as one token sequence, in the order a server reads it: tools and the answer's
    schema, then the conversation (chat ``messages``, or the Responses API's ``instructions`` and
    ``input``). Two requests share a cacheable prefix exactly as far as these sequences agree.
    An image stands as its fixed token estimate of ids made from its URL, so two different
    images differ and one image repeated matches."""
    ids: list[int] = []
    for key in ("tools", "response_format", "text"):
        if body.get(key):
            ids += encode(_json(body[key]))
    if body.get("instructions"):
        ids += encode("instructions:" + str(body["instructions"]))
    conversation = body.get("messages")
    if conversation is None:
        conversation = body.get("input")
    if isinstance(conversation, str):
        return ids + encode("user:" + conversation)
    for item in conversation or []:
        if isinstance(item, dict):
            ids += _item_ids(item, encode)
    return ids


def _item_ids(item: dict[str, Any], encode: Callable[[str], list[int]]) -> list[int]:
    ids = encode(f"{item.get('role') or item.get('type') or ''}:")
    for key, value in item.items():
        if key in ("role", "type"):
            continue
        if key == "content" and isinstance(value, list):
            for part in value:
                ids += _part_ids(part, encode)
        elif isinstance(value, str):
            ids += encode(value)
        elif value is not None:
            ids += encode(_json(value))
    return ids


def _part_ids(part: Any, encode: Callable[[str], list[int]]) -> list[int]:
    if not isinstance(part, dict):
        return []
    kind = part.get("type")
    if kind in ("text", "input_text", "output_text"):
        return encode(str(part.get("text", "")))
    if kind in ("image_url", "input_image"):
        image = part.get("image_url")
        url = image.get("url", "") if isinstance(image, dict) else str(image or "")
        detail = (image.get("detail") if isinstance(image, dict) else part.get("detail")) or "auto"
        mark = hash_id(url)
        return [mark] * IMAGE_TOKENS["low" if detail == "low" else "high"]
    return encode(_json(part))


def hash_id(text: str) -> int:
    """A stable id for a payload whose tokens are not worth computing (an image's data URL)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=4).digest(), "little")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
