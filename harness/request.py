"""Case -> canonical Request: the exact JSON body and endpoint one case sends.

The canonical form (method, endpoint path, query, body with sorted keys) is the case's identity: its
hash decides whether a cassette still answers this request. Hosts, ports and headers are left out,
so the same recording replays against any server address and no key can leak into the key. So are
the query parameters of a base URL (``?api-key=...`` for a gateway): they are transport
credentials, sent with every request as the SDK's ``default_query``, never part of a request.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from . import apis, redact
from .endpoint import Endpoint
from .episode import Conversation
from .errors import UserError
from .render import Renderer

if TYPE_CHECKING:  # suite.py imports the cassettes package, which keys requests with this module
    from .suite import Case, Message, Provider

DEFAULT_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class Request:
    """What one case sends; ``path`` is relative to the API root.

    ``body`` is the request in the chat format the suite is written in, which checks read (tools,
    response_format, messages); for chat it is exactly the JSON body sent. A wire API that
    translates it (the Responses API) keeps the body it sends in ``wire_body``; ``wire`` is the
    body on the wire either way, and the request's identity (its hash, its cassette) is the wire's.
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: dict[str, Any]
    endpoint: Endpoint
    api: str = apis.DEFAULT  # the wire API that sends it (apis/)
    wire_body: dict[str, Any] | None = None

    @property
    def wire(self) -> dict[str, Any]:
        return self.body if self.wire_body is None else self.wire_body

    def canonical(self) -> dict[str, Any]:
        return canonical_form(self.method, self.path, dict(self.query), self.wire)

    @cached_property
    def text(self) -> str:
        """The canonical JSON text, made once: planning scans it for secrets, replay hashes it."""
        return canonical_text(self.canonical())

    @property
    def key(self) -> str:
        """The hash of ``text``. Not a cached_property: a replay asks once per request, and
        cached_property's first access (it takes a lock) costs more than the hash it would save."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def canonical_form(method: str, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
    return {"method": method.upper(), "path": path, "query": dict(sorted(query.items())), "body": body}


def canonical_text(form: dict[str, Any]) -> str:
    """Sorted, compact JSON: the same request always gives the same bytes."""
    return json.dumps(form, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(form: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_text(form).encode("utf-8")).hexdigest()


def split_query(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A base URL without its query, and the query's parameters."""
    parts = urlsplit(url)
    if not parts.query:
        return url, ()
    return (urlunsplit(parts._replace(query="", fragment="")),
            tuple(parse_qsl(parts.query, keep_blank_values=True)))


def resolve_endpoint(provider: Provider, *, base_url_override: str | None = None,
                     case: Case | None = None) -> Endpoint:
    """Fill provider defaults from the environment (OPENAI_BASE_URL, AZURE_OPENAI_ENDPOINT, ...).

    The key's variable and the URL's credentials are registered as secrets here, where they are
    first known, so every writer of this process hides them from then on.
    """
    endpoint = _resolve(provider, base_url_override, case)
    redact.register(redact.query_secrets(endpoint.default_query), env_names=(endpoint.key_env,))
    return endpoint


def _resolve(provider: Provider, base_url_override: str | None, case: Case | None) -> Endpoint:
    if provider.type == "azure":
        version = provider.api_version or os.environ.get("OPENAI_API_VERSION")
        if not version:
            raise UserError("the azure provider needs api_version (in the suite, or OPENAI_API_VERSION)",
                            file=str(case.suite_path) if case else None, line=case.line if case else None,
                            case=case.id if case else None)
        endpoint = base_url_override or provider.endpoint or os.environ.get("AZURE_OPENAI_ENDPOINT")
        endpoint, query = split_query(endpoint) if endpoint else (endpoint, ())
        return Endpoint("azure", None, endpoint, provider.deployment or (case.model if case else None),
                        version, provider.key_env, query)
    base = base_url_override or provider.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    return _base_endpoint(provider, base)


@lru_cache(maxsize=64)
def _base_endpoint(provider: Provider, base: str) -> Endpoint:
    """Every case of a suite asks for the same provider and base URL: the URL is split and the
    Endpoint built once. The environment is still read on every call (by ``_resolve``), so a
    changed OPENAI_BASE_URL is a new key here, never a stale answer."""
    base, query = split_query(base)
    return Endpoint(provider.type, base.rstrip("/"), None, None, None, provider.key_env, query)


def _render_content(msg: Message, renderer: Renderer, case: Case, variables: dict[str, Any]) -> Any:
    if msg.file is not None:
        return renderer.render_file(msg.file, variables, line=msg.line, case=case.id)
    content = msg.content
    if isinstance(content, str):
        return renderer.render_string(content, variables, line=msg.line, case=case.id,
                                      what=f"{msg.role} message")
    if isinstance(content, list):
        parts: list[dict[str, Any]] = []
        for part in content:
            if part.get("type") == "text":
                text = renderer.render_string(part.get("text", ""), variables, line=msg.line,
                                              case=case.id, what=f"{msg.role} text part")
                parts.append({"type": "text", "text": text})
            else:
                image = dict(part["image_url"])
                if "file" in image:
                    image["url"] = renderer.data_url(
                        renderer.render_string(image.pop("file"), variables, line=msg.line,
                                               case=case.id, what="image file name"),
                        line=msg.line, case=case.id)
                else:
                    image["url"] = renderer.render_string(image["url"], variables, line=msg.line,
                                                          case=case.id, what="image url")
                parts.append({"type": "image_url", "image_url": image})
        return parts
    return content


def _api_tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An assistant's tool calls as the API expects them: ``type: function``, and ``arguments`` as
    JSON text (a suite may write them as a mapping, which reads better in YAML)."""
    out = []
    for call in calls:
        fn = dict(call["function"])
        if not isinstance(fn["arguments"], str):
            fn["arguments"] = json.dumps(fn["arguments"], ensure_ascii=False, separators=(",", ":"))
        out.append({"id": call["id"], "type": call.get("type", "function"), "function": fn})
    return out


def build_messages(case: Case, renderer: Renderer, variables: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for msg in case.messages:
        item: dict[str, Any] = {"role": msg.role, "content": _render_content(msg, renderer, case, variables)}
        item.update(dict(msg.extra))
        if "tool_calls" in item:
            item["tool_calls"] = _api_tool_calls(item["tool_calls"])
        out.append(item)
    return out


def raw_request(endpoint: Endpoint, body: dict[str, Any]) -> Request:
    """A chat request built from a ready body (the judge's), sent to the same provider as its case."""
    if endpoint.azure:
        endpoint = replace(endpoint, deployment=str(body.get("model")))
    path, query = apis.CHAT.route(endpoint)
    return Request("POST", path, query, body, endpoint)


def build_request(case: Case, renderer: Renderer, *, base_url_override: str | None = None,
                  conversation: Conversation | None = None) -> Request:
    """Render the case's templates and assemble the request its wire API (``case.api``) sends.

    ``conversation`` is what a later step of the case's episode adds after its own messages
    (earlier answers, tool results, next turns), already in the chat format.
    """
    endpoint = resolve_endpoint(case.provider, base_url_override=base_url_override, case=case)
    variables = renderer.variables(case.vars, line=case.line, case=case.id)
    messages = build_messages(case, renderer, variables)
    if conversation is not None:
        messages.extend(dict(m) for m in conversation.messages)
    body: dict[str, Any] = {"model": case.model, "messages": messages}
    params = dict(case.params)
    extra = params.pop("extra_body", None) or {}
    body.update(params)
    api = apis.get(case.api)
    options = apis.WireOptions(endpoint, conversation, chained=case.history == "chained",
                               json_schema_mode=case.provider.json_schema_mode)
    try:
        sent = api.translate(body, extra, options)
    except apis.Untranslatable as exc:
        # The line of the key that asked for it (suite or case), else the case's.
        raise exc.located(file=case.suite_path, line=case.key_lines.get(exc.key or "") or case.line,
                          case=case.id) from None
    return Request(method="POST", path=sent.path, query=sent.query, body=sent.body, endpoint=endpoint,
                   api=api.name, wire_body=sent.wire)
