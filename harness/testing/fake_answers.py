"""Answer synthesis for the fake OpenAI server (no I/O, no threads, no clock).

Everything here is a pure function of the request body so that the same
request always produces byte-identical answers: recorded cassettes, golden
files and benchmark outputs stay stable across runs and machines.  The HTTP
layer lives in :mod:`harness.testing.fake_openai`; this module only decides
*what* the assistant says and shapes it like the real Chat Completions API.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

#: ``created`` of every completion: a constant so answers never depend on the clock.
CREATED = 1700000000
SYSTEM_FINGERPRINT = "fp_fake00000000"
_MAX_DEPTH = 6  # recursion guard for self-referencing ($ref) schemas


@dataclass
class Rule:
    """A scripted reply; the first matching rule wins.

    ``contains`` is matched against the text of the last user message (text
    parts of a content-part list are joined with newlines), ``model`` against
    the request model (the deployment name on Azure paths).  A rule with
    ``status`` answers with that HTTP error; one with ``times`` is used only
    that many times and then skipped, which scripts "fail twice, then succeed".
    A rule without content, tool_calls or status keeps the synthesized answer
    but may still override ``finish_reason``.  ``echo_key`` (plain, escaped,
    partial, url) makes the reply carry the caller's key, as leaky gateways do
    (see :mod:`harness.testing.fake_echo`).  ``defect`` spoils a 200 answer
    the way broken servers and proxies do: ``"cut_stream"`` ends a streamed
    answer cleanly halfway (no finish_reason, no ``data: [DONE]``) and
    ``"no_choices"`` answers with ``choices: []``.

    ``pass_probability`` makes the rule a stochastic model, so tests can record real multi-sample
    suites: each matching request answers ``content`` with that probability and ``failing``
    otherwise. The draw is a hash of ``seed``, the request body and how many times this rule has
    already answered that same body, never of arrival order across cases: eight cases recorded
    concurrently get the same answers as when recorded one by one, and a case's n-th sample the
    same answer in every run under the same seed.
    """

    contains: str | None = None
    model: str | None = None
    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    status: int | None = None
    retry_after: float | None = None
    times: int | None = None
    finish_reason: str | None = None
    echo_key: str | None = None
    defect: str | None = None
    pass_probability: float | None = None
    failing: str | None = None
    seed: int = 0
    after_tool: bool | None = None

    def __post_init__(self) -> None:
        if self.pass_probability is None:
            return
        if isinstance(self.pass_probability, bool) or not 0 <= self.pass_probability <= 1:
            raise ValueError(f"pass_probability must be a number in 0..1, got {self.pass_probability!r}")
        if self.content is None or self.failing is None or self.status is not None or self.tool_calls:
            raise ValueError("a rule with pass_probability needs content (the passing answer) and "
                             "failing (the other one), and neither status nor tool_calls")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Rule:
        """Build a rule from YAML/JSON, rejecting unknown keys (typos must not silently match everything)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown rule key(s) {unknown}; allowed: {sorted(known)}")
        return cls(**dict(data))


    def applies(self, body: Mapping[str, Any]) -> bool:
        """Whether the rule may answer ``body``, as far as tool results go (see ``after_tool``)."""
        after = after_tool_result(body.get("messages"))
        if self.after_tool is not None:
            return self.after_tool == after
        return not (after and self.tool_calls)


@dataclass
class Answer:
    """What the fake model decided: an error status, or content and/or tool calls."""

    content: str | None = None
    tool_calls: list[tuple[str, str]] = field(default_factory=list)  # (function name, arguments JSON)
    finish_reason: str = "stop"
    status: int | None = None
    retry_after: float | None = None
    echo_key: str | None = None
    defect: str | None = None


# --------------------------------------------------------------------------- request inspection


def content_text(content: Any) -> str:
    """Text of a message ``content`` (string, None, or list of content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "\n".join(t for t in texts if isinstance(t, str))
    return ""


def last_user_text(messages: Any) -> str:
    """Text of the last ``user`` message, the thing rules and ``responses`` match on."""
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def after_tool_result(messages: Any) -> bool:
    """Whether the conversation ends with a tool result: the tools answered, the model is next."""
    last = messages[-1] if isinstance(messages, list) and messages else None
    return isinstance(last, dict) and last.get("role") == "tool"


def tool_results_text(messages: list[Any]) -> str:
    """The trailing tool results (those of the last step's calls), joined: ``18 °C; 21 °C``."""
    trailing: list[str] = []
    for message in reversed(messages):
        if not (isinstance(message, dict) and message.get("role") == "tool"):
            break
        trailing.insert(0, content_text(message.get("content")))
    return "; ".join(trailing)


def count_images(messages: Any) -> int:
    """Number of ``image_url`` parts in the whole conversation."""
    total = 0
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            total += sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url")
    return total


def estimate_tokens(text: str) -> int:
    """Deterministic token estimate: whitespace words x 1.3, rounded, at least 1."""
    return max(1, round(len(text.split()) * 1.3))


def body_digest(body: Any, *extra: str) -> str:
    """Stable hex digest of a request body, used for ids that must not change between runs."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256("\x00".join((canonical, *extra)).encode()).hexdigest()


def _max_tokens(body: Mapping[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


# --------------------------------------------------------------------------- JSON-Schema instances

_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
}
_PROPER_NOUN_WORDS = {"location", "locations", "city", "cities", "place", "places", "country", "countries",
                      "region", "destination", "origin", "town", "state", "where", "name", "person", "company",
                      "author", "customer", "recipient", "venue", "airport"}
_NOT_PROPER_WORDS = {"file", "model", "tool", "function", "key", "table", "column", "field", "path", "variable",
                     "var", "param", "parameter", "class", "method", "host", "domain", "image", "branch", "repo"}
_FREE_TEXT_WORDS = {"query", "question", "prompt", "input", "message", "search", "topic", "keywords", "keyword",
                    "text", "q", "request", "instruction", "instructions"}
_NOT_NAMES = {"what", "whats", "what's", "who", "how", "why", "when", "where", "which", "please", "can", "could",
              "would", "will", "tell", "give", "show", "list", "find", "get", "is", "are", "do", "does", "the",
              "a", "an", "i", "hi", "hello", "hey", "book", "make", "write", "describe", "explain", "return"}


def _capitalized_word(text: str) -> str | None:
    """A proper-noun-looking word: prefer capitalized words that do not start a sentence."""
    fallback = None
    for match in re.finditer(r"[^\W\d_][\w'-]*", text):
        word = re.sub(r"'s$", "", match.group())
        if not word[0].isupper() or word.lower() in _NOT_NAMES:
            continue
        before = text[: match.start()].rstrip()
        if before and before[-1] not in ".!?:;\n":
            return word
        fallback = fallback or word
    return fallback


def _placeholder(name: str, context: str) -> str:
    """A readable string for a property, borrowing from the user message where that makes sense."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name).replace("_", " ").replace("-", " ").lower().split()
    if words and any(w in _PROPER_NOUN_WORDS for w in words) and not any(w in _NOT_PROPER_WORDS for w in words):
        word = _capitalized_word(context)
        if word:
            return word
    if context.strip() and any(w in _FREE_TEXT_WORDS for w in words):
        return " ".join(context.split())[:200]
    return "example " + " ".join(words) if words else "example"


def _resolve_ref(root: Mapping[str, Any], ref: str) -> Any:
    if not ref.startswith("#"):
        return {}
    node: Any = root
    for part in [p for p in ref[1:].split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part, {}) if isinstance(node, Mapping) else {}
    return node


def _pick_type(schema: Mapping[str, Any]) -> str:
    declared = schema.get("type")
    if isinstance(declared, list):
        non_null = [t for t in declared if t != "null"]
        return non_null[0] if non_null else "null"
    if isinstance(declared, str):
        return declared
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return "string"


def synthesize(schema: Any, *, context: str = "", name: str = "", root: Any = None,
               _depth: int = 0, _variant: int = 0) -> Any:
    """A deterministic, minimal instance valid against ``schema``.

    Only required properties are filled; arrays get ``max(minItems, 1)`` items;
    strings use ``enum[0]``/``format`` examples/readable placeholders derived
    from the property name and ``context`` (the user's message); numbers use 0
    or their minimum.  ``pattern`` and ``not`` are not honoured.
    """
    root = schema if root is None else root
    if _depth > 8 * _MAX_DEPTH:  # only reachable for schemas with no finite instance (required self-reference)
        return None
    if not isinstance(schema, Mapping):
        return None if schema is False else "example"

    def again(sub: Any, sub_name: str = name, variant: int = 0, depth: int = _depth + 1) -> Any:
        return synthesize(sub, context=context, name=sub_name, root=root, _depth=depth, _variant=variant)

    if "$ref" in schema:
        return again(_resolve_ref(root, schema["$ref"]), variant=_variant)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][_variant % len(schema["enum"])]
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for sub in schema["allOf"]:
            sub = _resolve_ref(root, sub["$ref"]) if isinstance(sub, Mapping) and "$ref" in sub else sub
            for key, value in (sub.items() if isinstance(sub, Mapping) else ()):
                if key == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required":
                    merged["required"] = [*merged.get("required", []), *value]
                else:
                    merged.setdefault(key, value)
        return again(merged, variant=_variant, depth=_depth)
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            nulls = [o for o in options if isinstance(o, Mapping) and o.get("type") == "null"]
            others = [o for o in options if o not in nulls]
            chosen = nulls[0] if (nulls and (_depth >= _MAX_DEPTH or not others)) else others[0]
            return again(chosen, variant=_variant, depth=_depth)

    kind = _pick_type(schema)
    if kind == "object":
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        keys = [k for k in schema.get("required") or [] if isinstance(k, str)]
        for key in props:  # honour minProperties with the first optional properties
            if len(keys) >= int(schema.get("minProperties", 0)):
                break
            if key not in keys:
                keys.append(key)
        return {k: again(props.get(k, extra if isinstance(extra, Mapping) else {}), k, _variant) for k in keys}
    if kind == "array":
        prefix = schema.get("prefixItems") or (schema["items"] if isinstance(schema.get("items"), list) else [])
        items = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
        count = max(int(schema.get("minItems", 0)), 1 if _depth < _MAX_DEPTH else 0)
        if isinstance(schema.get("maxItems"), int):
            count = min(count, schema["maxItems"])
        return [again(prefix[i], name) if i < len(prefix) else again(items, name, i) for i in range(count)]
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer", variant=_variant)
    if kind == "boolean":
        return bool(_variant % 2)
    if kind == "null":
        return None
    text = _FORMATS.get(str(schema.get("format")), _placeholder(name, context))
    if _variant and str(schema.get("format")) not in _FORMATS:
        text = f"{text} {_variant + 1}"
    if isinstance(schema.get("maxLength"), int):
        text = text[: schema["maxLength"]]
    if isinstance(schema.get("minLength"), int) and len(text) < schema["minLength"]:
        text = text + "x" * (schema["minLength"] - len(text))
    return text


def _bound(schema: Mapping[str, Any], inclusive_key: str, exclusive_key: str) -> tuple[float | None, bool]:
    """A numeric bound and whether it is strict, for both draft-04 and draft-06+ spellings."""
    value = schema.get(inclusive_key)
    value = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    exclusive = schema.get(exclusive_key)
    if isinstance(exclusive, bool):  # draft-04: a flag on minimum/maximum
        return value, exclusive and value is not None
    if isinstance(exclusive, (int, float)):
        tighter = value is None or (exclusive >= value if inclusive_key == "minimum" else exclusive <= value)
        if tighter:
            return exclusive, True
    return value, False


def _number(schema: Mapping[str, Any], *, integer: bool, variant: int) -> int | float:
    """0, or the smallest allowed value, nudged by ``variant`` when that stays in range."""
    low, low_strict = _bound(schema, "minimum", "exclusiveMinimum")
    high, high_strict = _bound(schema, "maximum", "exclusiveMaximum")
    if integer:
        low = None if low is None else (math.floor(low) + 1 if low_strict else math.ceil(low))
        high = None if high is None else (math.ceil(high) - 1 if high_strict else math.floor(high))
        low_strict = high_strict = False
    if low is None:
        base: float = 0 if high is None or high > 0 or (high == 0 and not high_strict) else high - high_strict
    elif low_strict:
        step_up = low + 1
        fits = high is None or step_up < high or (step_up == high and not high_strict)
        base = step_up if fits else (low + high) / 2  # type: ignore[operator]
    else:
        base = low
    step = schema.get("multipleOf")
    candidates = [base + variant, base]
    if isinstance(step, (int, float)) and not isinstance(step, bool) and step > 0:
        candidates = [math.ceil(c / step) * step for c in candidates]
    for value in candidates:
        if high is None or value < high or (value == high and not high_strict):
            return int(value) if integer else value
    return int(base) if integer else base


# --------------------------------------------------------------------------- answers


def _trim(text: str, limit: int | None, stop: Any) -> tuple[str, str]:
    """Apply ``stop`` sequences and cut to ``limit`` words; returns (text, finish_reason)."""
    stops = [stop] if isinstance(stop, str) else [s for s in stop or [] if isinstance(s, str) and s]
    for sequence in stops:
        if sequence in text:
            text = text[: text.index(sequence)]
    if limit is not None:
        words = list(re.finditer(r"\S+", text))
        if len(words) > limit:
            return text[: words[limit - 1].end()], "length"
    return text, "stop"


def text_answer(text: str, body: Mapping[str, Any]) -> Answer:
    """A plain-text answer, honouring ``stop`` and max_tokens (as words) like the real API."""
    content, finish = _trim(text, _max_tokens(body), body.get("stop"))
    return Answer(content=content, finish_reason=finish)


def _chosen_tool(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The function definition to call, or None to answer without tools."""
    functions: list[dict[str, Any]] = [t["function"] for t in body.get("tools") or []
                                       if isinstance(t, dict) and isinstance(t.get("function"), dict)]
    choice = body.get("tool_choice")
    if not functions or choice == "none":
        return None
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        wanted = choice["function"].get("name")
        return next((f for f in functions if f.get("name") == wanted), functions[0])
    messages = body.get("messages") or []
    if choice != "required" and messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool":
        return None  # tool results are in: answer in text, or agent loops would never end
    return functions[0]


def default_answer(body: Mapping[str, Any]) -> Answer:
    """The synthesized answer when no rule or ``responses`` entry matched."""
    messages = body.get("messages") or []
    user_text = last_user_text(messages)
    tool = _chosen_tool(body)
    if tool is not None:
        arguments = synthesize(tool.get("parameters") or {"type": "object"}, context=user_text)
        return Answer(tool_calls=[(str(tool.get("name", "tool")), json.dumps(arguments))], finish_reason="tool_calls")
    response_format: dict[str, Any] = body["response_format"] if isinstance(body.get("response_format"), dict) else {}
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
        return Answer(content=json.dumps(synthesize(schema, context=user_text)))
    if response_format.get("type") == "json_object":
        return Answer(content=json.dumps({"answer": f"Echo: {user_text}".strip()}))
    if after_tool_result(messages):
        return text_answer(f"Based on the tool results: {tool_results_text(messages)}", body)
    text = f"Echo: {user_text}".strip()
    images = count_images(messages)
    if images:
        text += f" ({images} image{'s' if images != 1 else ''} received)"
    return text_answer(text, body)


def draw_passes(probability: float, seed: int, digest: str, draw: int) -> bool:
    """The ``draw``-th coin of a stochastic rule for one request body: a uniform number in [0, 1)
    from a hash, so it depends on nothing but its arguments (no shared random state)."""
    value = int(hashlib.sha256(f"{seed}:{digest}:{draw}".encode()).hexdigest()[:16], 16) / 16**16
    return value < probability


def rule_answer(rule: Rule, body: Mapping[str, Any], *, passes: bool = True) -> Answer:
    """The answer a matched rule scripts (error, content, tool calls, or default + finish_reason);
    ``passes`` False picks a stochastic rule's failing answer."""
    if rule.status is not None:
        return Answer(status=rule.status, retry_after=rule.retry_after, echo_key=rule.echo_key)
    if rule.pass_probability is not None and not passes:
        answer = text_answer(rule.failing or "", body)
    elif rule.content is None and not rule.tool_calls:
        answer = default_answer(body)
    elif rule.tool_calls:
        calls = []
        for call in rule.tool_calls:
            arguments = call.get("arguments", {})
            calls.append((str(call["name"]), arguments if isinstance(arguments, str) else json.dumps(arguments)))
        answer = Answer(content=rule.content, tool_calls=calls, finish_reason="tool_calls")
    else:
        answer = text_answer(rule.content or "", body)
    if rule.finish_reason is not None:
        answer.finish_reason = rule.finish_reason
    answer.echo_key = rule.echo_key
    answer.defect = rule.defect
    return answer


# --------------------------------------------------------------------------- response shapes


def prompt_tokens(body: Mapping[str, Any]) -> int:
    """Prompt size estimate: message text, tool definitions, and 85 tokens per image."""
    messages = body.get("messages") or []
    text = " ".join(content_text(m.get("content")) for m in messages if isinstance(m, dict))
    if body.get("tools"):
        text += " " + json.dumps(body["tools"])
    return estimate_tokens(text) + 85 * count_images(messages)


def build_completion(body: Mapping[str, Any], answer: Answer, *, model: str, digest: str) -> dict[str, Any]:
    """A ``chat.completion`` object shaped like the real API's, ids derived from ``digest``."""
    message: dict[str, Any] = {"role": "assistant", "content": answer.content, "refusal": None, "annotations": []}
    produced = answer.content or ""
    if answer.tool_calls:
        message["tool_calls"] = [
            {"id": "call_" + hashlib.sha256(f"{digest}:{i}:{name}".encode()).hexdigest()[:24], "type": "function",
             "function": {"name": name, "arguments": arguments}}
            for i, (name, arguments) in enumerate(answer.tool_calls)
        ]
        produced += " " + " ".join(f"{name} {arguments}" for name, arguments in answer.tool_calls)
    completion_tokens = estimate_tokens(produced)
    limit = _max_tokens(body)
    if limit is not None:
        completion_tokens = min(completion_tokens, limit)
    prompt = prompt_tokens(body)
    return {
        "id": "chatcmpl-" + digest[:29],
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": answer.finish_reason}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        },
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def stream_chunks(completion: Mapping[str, Any], *, include_usage: bool) -> Iterator[dict[str, Any]]:
    """The ``chat.completion.chunk`` sequence whose deltas reassemble into ``completion``."""
    base = {k: completion[k] for k in ("id", "created", "model", "service_tier", "system_fingerprint")}
    base["object"] = "chat.completion.chunk"
    choice = completion["choices"][0]
    message = choice["message"]

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        out = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
        if include_usage:
            out["usage"] = None
        return out

    content = message.get("content")
    yield chunk({"role": "assistant", "content": "" if content is not None else None, "refusal": None})
    for piece in re.findall(r"\s*\S+\s*|\s+", content or ""):
        yield chunk({"content": piece})
    for index, call in enumerate(message.get("tool_calls") or []):
        head = {"index": index, "id": call["id"], "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""}}
        yield chunk({"tool_calls": [head]})
        arguments = call["function"]["arguments"]
        for start in range(0, len(arguments), 8):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments[start:start + 8]}}]})
    yield chunk({}, choice["finish_reason"])
    if include_usage:
        yield {**base, "choices": [], "usage": completion["usage"]}


_ERRORS = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("permission_error", None, "You are not allowed to sample from this model."),
    404: ("invalid_request_error", None, "Not found."),
    409: ("invalid_request_error", None, "Conflict."),
    422: ("invalid_request_error", None, "Unprocessable entity."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests (fake server). Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", "service_unavailable", "The engine is currently overloaded, please try again later."),
}


def error_body(status: int, message: str | None = None, code: str | None = None) -> dict[str, Any]:
    """OpenAI-style error JSON for ``status`` (``{"error": {message, type, param, code}}``)."""
    kind, default_code, default_message = _ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, f"HTTP {status}."))
    return {"error": {"message": message or default_message, "type": kind, "param": None,
                      "code": code if code is not None else default_code}}
