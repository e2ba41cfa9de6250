"""The ``impl:`` and ``results:`` keys of a tool entry, read from the suite at load.

A tool that answers itself turns a case into an agent loop: harness runs the tool the model called
and sends its result back. These two keys are harness's, not the API's: they are taken out of the
``tools`` sent (so neither the request nor its cassette carries them) and kept here, with their
lines, so that every later error about them can point at the line that wrote them. The suite
schema checks their shape; this module adds what a schema cannot say (one default entry, not both
keys on one tool).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..yamlio import line_of, plain

#: Keys of a tool entry that harness reads and never sends.
HARNESS_KEYS = ("impl", "results")
#: Model calls one user turn may take (its tool loop) unless the suite or case sets ``max_steps``:
#: enough for an agent that calls a few tools in turn, few enough that a model calling the same
#: tool over and over fails in seconds instead of spending for minutes.
DEFAULT_MAX_STEPS = 10


@dataclass(frozen=True)
class Scripted:
    """One ``results:`` entry: the result for calls whose arguments include ``arguments``."""

    arguments: dict[str, Any] | None  # None: the default entry, for calls no other entry matches
    result: Any  # a text (a template, rendered with the case's vars) or a mapping/list (sent as JSON)
    line: int | None


@dataclass(frozen=True)
class ToolSpec:
    """A tool of the case that answers itself: by a Python function, or by scripted results."""

    name: str
    impl: str | None  # ``module:function``, the module a file beside the suite
    results: tuple[Scripted, ...]
    line: int | None



def _scripted(tool: dict[str, Any], name: str, *, file: Path, case: str) -> tuple[Scripted, ...]:
    raw = tool["results"]
    entries = tuple(Scripted(plain(entry.get("arguments")) if "arguments" in entry else None,
                             plain(entry["result"]), line_of(raw, i))
                    for i, entry in enumerate(raw))
    defaults = [e for e in entries if e.arguments is None]
    if len(defaults) > 1:
        raise UserError(f"tool {name!r}: results has {len(defaults)} entries without 'arguments'; "
                        "only one may be the default", file=file, line=defaults[1].line, case=case)
    return entries


def answering_tools(tools: Any, *, file: Path, case: str) -> tuple[ToolSpec, ...]:
    """The tools of ``tools`` (as written in the suite, with lines) that carry impl or results."""
    out = []
    for index, tool in enumerate(tools if isinstance(tools, list) else []):
        if not isinstance(tool, dict) or not any(k in tool for k in HARNESS_KEYS):
            continue
        name = str((tool.get("function") or {}).get("name"))
        line = line_of(tool, "impl") or line_of(tool, "results") or line_of(tools, index)
        if "impl" in tool and "results" in tool:
            raise UserError(f"tool {name!r} has both impl and results: give one (a function that "
                            "answers, or scripted results)", file=file, line=line, case=case)
        results = _scripted(tool, name, file=file, case=case) if "results" in tool else ()
        out.append(ToolSpec(name, str(tool["impl"]) if "impl" in tool else None, results, line))
    return tuple(out)


def api_tools(tools: list[Any]) -> list[Any]:
    """``tools`` as the API takes them: without harness's own keys."""
    return [{k: v for k, v in tool.items() if k not in HARNESS_KEYS} if isinstance(tool, dict) else tool
            for tool in tools]
