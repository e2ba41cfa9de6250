"""The Responses API (``POST /responses``): the same suites, sent the way newer OpenAI models prefer.

``api: responses`` on a suite or a case sends it here. The request is translated from the suite's
chat format (responses_request.py) and its answer read back into the same Output
(responses_output.py); this module ties both to the endpoint, the SDK call and the cassette view.

On Azure OpenAI the SDK posts to ``{endpoint}/openai/responses?api-version=...`` (the deployment is
not in the path; it is the body's ``model``), so the path relative to the API root is ``/responses``
there too.
"""

from __future__ import annotations

import json
from typing import Any

from ..endpoint import Endpoint
from ..output import Output
from . import responses_output
from .base import Query, Translation, WireOptions, readable_image, readable_text, sdk_post
from .responses_request import to_responses


def _readable_content(content: Any) -> Any:
    if isinstance(content, str):
        return readable_text(content)
    if not isinstance(content, list):
        return content
    out: list[Any] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text"):
            out.append(readable_text(str(part.get("text", ""))))
        elif kind == "input_image":
            out.append(readable_image(str(part.get("image_url") or part.get("file_id") or "")))
        else:
            out.append(part)
    return out


def _readable_item(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    kind = item.get("type", "message")
    if kind == "message":
        return {str(item.get("role")): _readable_content(item.get("content"))}
    if kind == "function_call":
        raw = str(item.get("arguments") or "")
        try:
            arguments: Any = json.loads(raw)
        except ValueError:
            arguments = raw
        return {"function_call": {str(item.get("name")): arguments}}
    if kind == "function_call_output":
        output = item.get("output")
        return {"function_call_output": readable_text(output) if isinstance(output, str) else output}
    return item


class ResponsesApi:
    name = "responses"
    first_token: tuple[bytes, ...] = (b"response.output_text.delta", b"response.refusal.delta",
                                      b"response.function_call_arguments.delta")
    batch_url = "/v1/responses"

    def owns(self, path: str) -> bool:
        return path.endswith("/responses")

    def route(self, endpoint: Endpoint) -> tuple[str, Query]:
        if endpoint.azure:
            return "/responses", (("api-version", str(endpoint.api_version)),)
        return "/responses", ()

    def translate(self, body: dict[str, Any], extra: dict[str, Any], options: WireOptions) -> Translation:
        wire = to_responses(body, extra, options)
        path, query = self.route(options.endpoint)
        checked = {**body, "extra_body": extra} if extra else body  # a secret there is named by its key
        return Translation(path, query, checked, wire)

    def send(self, client: Any, wire: dict[str, Any]) -> None:
        sdk_post(client, "/responses", wire)

    def prompt(self, body: Any) -> list[Any]:
        """Previous response (when chained), instructions, then each input item."""
        if not isinstance(body, dict):
            return []
        view: list[Any] = []
        if body.get("previous_response_id"):
            view.append({"previous_response_id": body["previous_response_id"]})
        if isinstance(body.get("instructions"), str):
            view.append({"instructions": readable_text(body["instructions"])})
        given = body.get("input")
        if isinstance(given, str):
            view.append({"user": readable_text(given)})
        elif isinstance(given, list):
            view.extend(_readable_item(item) for item in given)
        return view

    def failure_hint(self, body: dict[str, Any], status: int, text: str) -> str:
        if status == 404 and "previous_response" not in text:
            return " (does this server speak the Responses API? Use api: chat for servers that do not)"
        return ""

    def from_json(self, data: dict[str, Any]) -> Output:
        return responses_output.from_json(data)

    def from_sse(self, text: str) -> Output:
        return responses_output.from_sse(text)


RESPONSES = ResponsesApi()
