"""promptfoo prompts -> a suite's ``prompt:`` (one user message) or ``messages:`` (a chat).

promptfoo sends a text prompt as one user message, and a prompt that is a JSON (or YAML) list of
``{role, content}`` as the conversation; so does the converted suite. Templates are Nunjucks, which
Jinja reads the same for what prompts use (``{{ var }}``, ``{% for %}``, ``{% if %}``, filters
such as ``upper``, ``join``, ``length``); ``dump`` (JSON text) is ``tojson`` in Jinja and is
rewritten. What Jinja lacks (custom ``nunjucksFilters``, promptfoo's ``_conversation``) is
reported; a template that still does not render is what ``harness validate`` then names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ...errors import UserError
from ...yamlio import plain
from .report import Report
from .sources import SCRIPT_SUFFIXES, TEXT_SUFFIXES, Source, is_ref, read_data, read_text, ref_path, resolve

_DUMP = re.compile(r"\|\s*dump\b")
_ROLES = ("system", "developer", "user", "assistant", "tool")


@dataclass(frozen=True)
class Prompt:
    label: str
    text: str | None = None  # a template sent as one user message
    messages: tuple[dict[str, Any], ...] = ()  # or a chat: {role, content (a template or parts)}


def convert_prompts(raw: Any, source: Source, report: Report, container: Any) -> list[Prompt]:
    where = source.at(container, "prompts")
    if isinstance(raw, (str, dict)) and not (isinstance(raw, dict) and _is_label_map(raw)):
        raw = [raw]
    elif isinstance(raw, dict):  # {file://a.txt: label, ...}
        raw = [{"id": k, "label": v} for k, v in raw.items()]
    if not isinstance(raw, list) or not raw:
        report.skip(where, "prompts", "expected a prompt or a list of prompts")
        return []
    prompts: list[Prompt] = []
    for index, item in enumerate(raw):
        at = source.at(raw, index)
        label = None
        if isinstance(item, dict):
            label = item.get("label")
            for key in set(item) - {"id", "raw", "label"}:
                report.skip(at, f"prompt {key}", "no equivalent in a harness suite")
            item = item.get("raw", item.get("id"))
        if not isinstance(item, str):
            report.skip(at, "prompt", "expected text or file://")
            continue
        try:
            found = _prompt(item, source, report, at)
        except UserError as exc:
            report.skip(at, item[:60], str(exc))
            continue
        for n, prompt in enumerate(found):
            name = str(label) if label and len(found) == 1 else f"{label}-{n + 1}" if label else prompt.label
            prompts.append(Prompt(name, prompt.text, prompt.messages))
    for prompt in prompts:
        _check(prompt, report, where)
    return _unique(prompts)


def _unique(prompts: list[Prompt]) -> list[Prompt]:
    """Labels name the suite files, so two prompts never share one (inline prompts all start as
    ``prompt``): repeated labels are numbered in order."""
    counts: dict[str, int] = {}
    for prompt in prompts:
        counts[prompt.label] = counts.get(prompt.label, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for prompt in prompts:
        if counts[prompt.label] > 1:
            seen[prompt.label] = seen.get(prompt.label, 0) + 1
            prompt = Prompt(f"{prompt.label}-{seen[prompt.label]}", prompt.text, prompt.messages)
        out.append(prompt)
    return out


def _is_label_map(raw: dict[str, Any]) -> bool:
    return bool(raw) and "id" not in raw and "raw" not in raw and all(is_ref(k) or "." in k for k in raw)


def _looks_like_file(text: str, source: Source) -> bool:
    """A bare ``prompts.txt`` names a file, as in promptfoo's older configs."""
    return "\n" not in text and "{{" not in text and Path(text).suffix.lower() in (
        *[s for s in TEXT_SUFFIXES if s], ".json", ".yaml", ".yml", ".jsonl") and (source.base / text).is_file()


def _prompt(text: str, source: Source, report: Report, where: str) -> list[Prompt]:
    if not is_ref(text) and not _looks_like_file(text, source):
        return [_inline(text, "prompt", where, report)]
    name, function = ref_path(text)
    if function is not None or name.endswith(SCRIPT_SUFFIXES):
        raise UserError("a prompt made by code (a function) cannot be converted; write its result as a "
                        "template")
    prompts = []
    for path in resolve(source, name):
        shown = source.for_file(path).shown
        suffix = path.suffix.lower()
        if suffix in (".json", ".yaml", ".yml"):
            data = read_data(source, path)
            if _chat(data):
                prompts.append(Prompt(path.stem, messages=tuple(plain(m) for m in data)))
                continue
            raise UserError("expected a list of {role, content} messages", file=shown)
        if suffix == ".jsonl":
            for n, line in enumerate(read_data(source, path), 1):
                if not _chat(line):
                    raise UserError(f"line {n}: expected a list of {{role, content}} messages", file=shown)
                prompts.append(Prompt(f"{path.stem}-{n}", messages=tuple(plain(m) for m in line)))
            continue
        # promptfoo splits a text file into several prompts at lines of three dashes.
        parts = [p.strip("\n") for p in re.split(r"^---$", read_text(source, path), flags=re.MULTILINE)]
        parts = [p for p in parts if p.strip()]
        for n, part in enumerate(parts, 1):
            prompts.append(_inline(part, path.stem if len(parts) == 1 else f"{path.stem}-{n}", shown, report))
    return prompts


def _inline(text: str, label: str, where: str, report: Report) -> Prompt:
    stripped = text.strip()
    if stripped.startswith(("[", "- role:")):
        try:
            data = json.loads(stripped) if stripped.startswith("[") else yaml.safe_load(stripped)
        except (ValueError, yaml.YAMLError):
            data = None
        if _chat(data):
            return Prompt(label, messages=tuple(data))
        if stripped.startswith("[") and '"role"' in stripped:
            report.note(where, "prompt", "looks like a chat (JSON) but does not parse before rendering: sent "
                        "as one user message, as its text")
    return Prompt(label, text=text)


def _chat(data: Any) -> bool:
    return isinstance(data, list) and bool(data) and all(
        isinstance(m, dict) and m.get("role") in _ROLES and "content" in m for m in data)



def _check(prompt: Prompt, report: Report, where: str) -> None:
    texts = [prompt.text] if prompt.text is not None else [
        m["content"] for m in prompt.messages if isinstance(m.get("content"), str)]
    for text in texts:
        if text is not None and "_conversation" in text:
            report.skip(where, f"prompt {prompt.label}", "uses promptfoo's _conversation (earlier turns of a "
                        "test run): write the conversation as turns: or messages: instead")


def jinja(text: str) -> str:
    """A Nunjucks template in Jinja's spelling (``dump`` -> ``tojson``)."""
    return _DUMP.sub("| tojson", text)


def jinja_messages(messages: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    out = []
    for message in messages:
        item = dict(message)
        if isinstance(item.get("content"), str):
            item["content"] = jinja(item["content"])
        out.append(item)
    return out
