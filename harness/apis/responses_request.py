"""A chat-format request as the Responses API takes it (``POST /responses``).

The suite stays the same whichever API sends it; this is the one place that knows how its keys
read in the Responses API. The rules, each one a choice:

- Messages with role ``system`` (or ``developer``) before the first other message become
  ``instructions``, joined by a blank line. A system message anywhere later keeps its place in the
  conversation as an input message with role ``developer`` (the Responses API's name for it).
  ``instructions`` are sent with every request, chained or not: the API does not carry them over
  from a previous response.
- User messages keep their text; content parts become ``input_text`` and ``input_image`` parts
  (``detail`` defaults to ``auto``, which the API requires). An assistant's text is an assistant
  message; its ``tool_calls`` become ``function_call`` items, and ``tool`` messages
  ``function_call_output`` items, paired by ``call_id``.
- Tools take the flat shape. A tool without ``strict`` is sent ``strict: false``, as chat treats it
  (the Responses API would default to true and reject schemas chat accepts).
- A key the Responses API has no equivalent for (``seed``, ``stop``, ``n``, penalties, ...) is a
  user error naming the key, never silently dropped. ``extra_body`` holds raw Responses fields: they
  are merged last, replacing a translated field of the same name.
- ``history: chained`` sends a later step of an episode as ``previous_response_id`` plus only the
  messages the previous response did not have (``Conversation.sent``); by default every request
  carries the whole conversation, as chat does.
"""

from __future__ import annotations

import json
from typing import Any

from .base import Untranslatable, WireOptions

#: Chat keys the Responses API takes under the same name and with the same meaning.
SAME = ("temperature", "top_p", "parallel_tool_calls", "stream", "store", "metadata", "user",
        "service_tier", "prompt_cache_key", "safety_identifier")
#: Chat keys translated into another shape below.
_TRANSLATED = ("model", "messages", "tools", "tool_choice", "response_format", "max_tokens",
               "max_completion_tokens", "reasoning_effort", "verbosity")
_MESSAGE_KEYS = {"system": {"role", "content"}, "developer": {"role", "content"}, "user": {"role", "content"},
                 "assistant": {"role", "content", "tool_calls"}, "tool": {"role", "content", "tool_call_id"}}


def _refuse(key: str, what: str | None = None) -> Untranslatable:
    return Untranslatable(f"{what or repr(key)} has no equivalent in the Responses API (api: responses): "
                          "remove it, or send this case with api: chat", key=key)


def to_responses(body: dict[str, Any], extra: dict[str, Any], options: WireOptions) -> dict[str, Any]:
    """The Responses API body for a chat-format ``body`` (model, messages, request keys)."""
    for key in body:
        if key not in SAME and key not in _TRANSLATED:
            raise _refuse(key)
    if options.json_schema_mode == "json_object":
        raise Untranslatable("provider json_schema_mode: json_object is a chat-API setting (llama.cpp's form "
                             "of response_format); it has no meaning with api: responses", key="provider")
    messages: list[dict[str, Any]] = list(body.get("messages") or [])
    endpoint = options.endpoint
    wire: dict[str, Any] = {"model": endpoint.deployment if endpoint.azure else body.get("model")}
    instructions, first = _instructions(messages)
    if instructions is not None:
        wire["instructions"] = instructions
    start = first
    conversation = options.conversation
    if options.chained and conversation is not None and conversation.previous_response_id:
        if extra.get("store") is False or body.get("store") is False:
            raise Untranslatable("history: chained needs the server to keep each response (store); "
                                 "remove store: false, or use history: full", key="history")
        wire["previous_response_id"] = conversation.previous_response_id
        start = max(first, conversation.sent)
    wire["input"] = input_items(messages[start:])
    if body.get("tools") is not None:
        wire["tools"] = [_tool(t) for t in body["tools"]]
    if "tool_choice" in body:
        wire["tool_choice"] = _tool_choice(body["tool_choice"])
    text = _text_config(body)
    if text:
        wire["text"] = text
    limit = _max_output_tokens(body)
    if limit is not None:
        wire["max_output_tokens"] = limit
    if "reasoning_effort" in body:
        wire["reasoning"] = {"effort": body["reasoning_effort"]}
    wire.update((key, body[key]) for key in SAME if key in body)
    wire.update(extra)
    return wire


def _text_of(content: Any, where: str) -> str:
    """The text of a message that can only carry text (system, assistant, tool)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if not isinstance(part, dict) or part.get("type") != "text":
            raise Untranslatable(f"a {where} message may hold only text parts in the Responses API",
                                 key="messages")
        texts.append(str(part.get("text", "")))
    return "\n".join(texts)


def _instructions(messages: list[dict[str, Any]]) -> tuple[str | None, int]:
    """The leading system messages as ``instructions``, and the index of the first message after them."""
    first = 0
    while first < len(messages) and messages[first].get("role") in ("system", "developer"):
        first += 1
    if not first:
        return None, 0
    return "\n\n".join(_text_of(m.get("content"), str(m.get("role"))) for m in messages[:first]), first


def input_items(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages as Responses input items, in order."""
    items: list[dict[str, Any]] = []
    for msg in messages:
        role = str(msg.get("role"))
        unknown = sorted(set(msg) - _MESSAGE_KEYS.get(role, set()))
        if unknown:
            raise _refuse("messages", f"the {role} message key {unknown[0]!r}")
        content = msg.get("content")
        if role in ("system", "developer"):
            items.append({"role": "developer", "content": _user_content(content)})
        elif role == "user":
            items.append({"role": "user", "content": _user_content(content)})
        elif role == "assistant":
            said = _text_of(content, role)
            if said or not msg.get("tool_calls"):
                items.append({"role": "assistant", "content": said})
            for call in msg.get("tool_calls") or []:
                fn = call.get("function") or {}
                arguments = fn.get("arguments", "")
                if not isinstance(arguments, str):
                    arguments = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
                items.append({"type": "function_call", "call_id": call.get("id"), "name": fn.get("name"),
                              "arguments": arguments})
        elif role == "tool":
            items.append({"type": "function_call_output", "call_id": msg.get("tool_call_id"),
                          "output": _text_of(content, role)})
        else:
            raise _refuse("messages", f"the message role {role!r}")
    return items


def _user_content(content: Any) -> Any:
    if content is None or isinstance(content, str):
        return content or ""
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append({"type": "input_text", "text": str(part.get("text", ""))})
        elif kind == "image_url":
            image = part.get("image_url") or {}
            parts.append({"type": "input_image", "image_url": image.get("url"),
                          "detail": image.get("detail", "auto")})
        else:
            raise _refuse("messages", f"a content part of type {kind!r}")
    return parts


def _tool(tool: Any) -> dict[str, Any]:
    fn = tool.get("function") if isinstance(tool, dict) and tool.get("type", "function") == "function" else None
    if not isinstance(fn, dict):
        raise _refuse("tools", "a tool that is not a function")
    out: dict[str, Any] = {"type": "function", "name": fn.get("name")}
    if "description" in fn:
        out["description"] = fn["description"]
    out["parameters"] = fn.get("parameters")
    out["strict"] = fn.get("strict", False)
    return out


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, str):
        return choice
    fn = choice.get("function") if isinstance(choice, dict) and choice.get("type") == "function" else None
    if not isinstance(fn, dict) or not fn.get("name"):
        raise _refuse("tool_choice", f"tool_choice {json.dumps(choice)[:60]}")
    return {"type": "function", "name": fn["name"]}


def _text_config(body: dict[str, Any]) -> dict[str, Any]:
    """``text: {format, verbosity}`` from response_format and verbosity."""
    text: dict[str, Any] = {}
    fmt = body.get("response_format")
    if isinstance(fmt, dict):
        kind = fmt.get("type")
        if kind == "json_schema":
            inner = fmt.get("json_schema") or {}
            text["format"] = {"type": "json_schema", "name": inner.get("name"), "schema": inner.get("schema")}
            text["format"].update((k, inner[k]) for k in ("description", "strict") if k in inner)
        elif kind in ("json_object", "text"):
            text["format"] = {"type": kind}
        else:
            raise _refuse("response_format", f"response_format type {kind!r}")
    if "verbosity" in body:
        text["verbosity"] = body["verbosity"]
    return text


def _max_output_tokens(body: dict[str, Any]) -> int | None:
    given = [k for k in ("max_tokens", "max_completion_tokens") if k in body]
    if len(given) > 1:
        raise Untranslatable("max_tokens and max_completion_tokens are both set; the Responses API has one "
                             "limit (max_output_tokens): keep one", key="max_completion_tokens")
    return body[given[0]] if given else None


__all__ = ["SAME", "input_items", "to_responses"]
