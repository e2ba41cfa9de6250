"""promptfoo providers -> where a harness suite sends its requests (provider, model, API, request keys).

Converted: OpenAI chat and Responses models (``openai:gpt-4o``, ``openai:chat:gpt-4o``,
``openai:responses:gpt-4.1``), Azure OpenAI deployments (``azure:chat:NAME``, ``azure:responses:NAME``,
the older ``azureopenai:``), and any of them pointed at an OpenAI-compatible server by
``config.apiBaseUrl`` / ``apiHost``. Other vendors speak other APIs and are reported. Keys are never
carried over: ``config.apiKey`` is reported (a suite names the key's environment variable, which
``apiKeyEnvar`` converts to).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import UserError
from .report import Report
from .sources import Source, is_ref, read_data, resolve

#: Request keys a harness suite has, under the same name as promptfoo's OpenAI config.
_SAME_KEYS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "seed", "stop", "tools",
              "tool_choice", "parallel_tool_calls", "response_format", "reasoning_effort", "verbosity")
#: Other body fields of the OpenAI APIs, sent as they are through extra_body.
_BODY_KEYS = ("frequency_penalty", "presence_penalty", "logit_bias", "logprobs", "top_logprobs", "user", "n",
              "store", "metadata", "service_tier", "prediction", "modalities", "audio", "web_search_options")
#: Transport options harness takes from elsewhere (the environment, its own settings).
_TRANSPORT = {"organization": "set OPENAI_ORG_ID instead", "headers": "harness sends no extra headers",
              "maxRetries": "harness's --max-retries", "timeout": "harness's --timeout",
              "apiKey": "a key is never written in a suite: name its variable (apiKeyEnvar / api_key_env)"}
DEFAULT_AZURE_API_VERSION = "2024-10-21"


@dataclass(frozen=True)
class Target:
    """One promptfoo provider as a harness suite writes it."""

    label: str
    model: str
    provider: dict[str, Any] = field(default_factory=dict)  # the suite's provider: block ({}: OpenAI)
    api: str = "chat"
    params: dict[str, Any] = field(default_factory=dict)  # request keys (and extra_body)

    def group(self) -> str:
        """Targets that differ only in their model share one suite (``models:``)."""
        return repr((sorted(self.provider.items()), self.api, sorted(self.params.items(), key=lambda kv: kv[0])))


def judge_model(provider: Any) -> str | None:
    """The model of a grading provider (``openai:gpt-4o``, ``{id: openai:chat:gpt-4o}``), or None."""
    if isinstance(provider, dict):
        provider = provider.get("id")
    if not isinstance(provider, str):
        return None
    parts = provider.split(":")
    if parts[0] not in ("openai", "azure", "azureopenai") or len(parts) < 2:
        return None
    return parts[-1] if len(parts) > 2 or parts[1] not in ("chat", "responses") else None


def convert_providers(raw: Any, source: Source, report: Report, container: Any, key: str) -> list[Target]:
    where = source.at(container, key)
    if is_ref(raw):
        try:
            path = resolve(source, raw[len("file://"):])[0]
            return convert_providers(read_data(source, path), source.for_file(path), report, None, key)
        except UserError as exc:
            report.skip(where, "providers", str(exc))
            return []
    if isinstance(raw, (str, dict)):
        raw = [raw]
    if not isinstance(raw, list):
        report.skip(where, "providers", "expected a list of providers")
        return []
    targets = []
    for index, item in enumerate(raw):
        at = source.at(raw, index)
        if isinstance(item, dict) and "id" not in item and len(item) == 1:  # {openai:gpt-4o: {config: ...}}
            (pid, options), = item.items()
            item = {"id": pid, **(options if isinstance(options, dict) else {})}
        target = _target(item, source, report, at)
        if target is not None:
            targets.append(target)
    return targets


def _target(item: Any, source: Source, report: Report, where: str) -> Target | None:
    pid = item if isinstance(item, str) else item.get("id") if isinstance(item, dict) else None
    if not isinstance(pid, str):
        report.skip(where, "provider", "expected an id such as openai:gpt-4o")
        return None
    config = item.get("config") or {} if isinstance(item, dict) else {}
    parts = pid.split(":")
    vendor = parts[0]
    if vendor not in ("openai", "azure", "azureopenai"):
        report.skip(where, pid, "not an OpenAI-style API (harness speaks the OpenAI chat and Responses APIs)")
        return None
    api = "chat"
    rest = parts[1:]
    if rest and rest[0] in ("chat", "responses"):
        api = rest.pop(0)
    elif rest and rest[0] in ("completion", "embedding", "embeddings", "assistant", "image", "realtime",
                              "moderation", "transcription", "video", "agents", "codex-sdk", "chatkit"):
        report.skip(where, pid, f"the {rest[0]} API is not one harness sends")
        return None
    name = ":".join(rest) or config.get("model") or config.get("deployment_id")
    if not name:
        report.skip(where, pid, "no model named")
        return None
    provider: dict[str, Any] = {}
    if vendor == "openai":
        base = config.get("apiBaseUrl") or (f"https://{config['apiHost']}/v1" if config.get("apiHost") else None)
        if base:
            provider = {"type": "compatible", "base_url": str(base)}
        model = str(config.get("model") or name)
    else:
        model = str(config.get("model") or name)
        provider = {"type": "azure", "api_version": str(config.get("apiVersion") or DEFAULT_AZURE_API_VERSION)}
        if model != name:
            provider["deployment"] = name
        host = config.get("apiBaseUrl") or (f"https://{config['apiHost']}" if config.get("apiHost") else None)
        if host:
            provider["endpoint"] = str(host)
        else:
            report.note(where, pid, "no apiHost: the endpoint is read from AZURE_OPENAI_ENDPOINT")
        if not config.get("apiVersion"):
            report.note(where, pid, f"no apiVersion: api_version {DEFAULT_AZURE_API_VERSION} written")
    if config.get("apiKeyEnvar"):
        provider["api_key_env"] = str(config["apiKeyEnvar"])
    params = _params(config, source, report, pid)
    label = item.get("label") if isinstance(item, dict) else None
    return Target(str(label or name), model, provider, api, params)


def _params(config: dict[str, Any], source: Source, report: Report, pid: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    handled = {"apiBaseUrl", "apiHost", "apiKeyEnvar", "apiVersion", "model", "deployment_id", "passthrough"}
    for key, value in config.items():
        where = source.at(config, key)
        if is_ref(value) and key in ("tools", "response_format"):
            try:
                value = read_data(source, resolve(source, value[len("file://"):])[0])
            except UserError as exc:
                report.skip(where, f"{pid} config.{key}", str(exc))
                continue
        if key in _SAME_KEYS:
            params[key] = value
        elif key == "max_output_tokens":
            params["max_tokens"] = value
        elif key == "reasoning" and isinstance(value, dict) and set(value) == {"effort"}:
            params["reasoning_effort"] = value["effort"]
        elif key in _BODY_KEYS:
            extra[key] = value
        elif key in _TRANSPORT:
            report.skip(where, f"{pid} config.{key}", _TRANSPORT[key])
        elif key not in handled:
            report.skip(where, f"{pid} config.{key}", "no equivalent in a harness suite")
    if isinstance(config.get("passthrough"), dict):
        extra.update(config["passthrough"])
    if extra:
        params["extra_body"] = extra
    return params
