"""promptfoo assertions -> harness checks.

Each assertion becomes one check item as a suite writes it, or a line in the report saying why it
could not (and nothing in the suite). What differs in meaning, though converted, is noted:
harness's ``equals`` and ``starts-with`` ignore surrounding whitespace, ``contains-json`` becomes
"the answer, or its code fence, is JSON", ``llm-rubric`` is graded by harness's own judge prompt.
``javascript`` and ``python`` assertions become stub functions in a module beside the suites:
each raises until it is written, so the case shows an error, never a pass.

promptfoo renders an assertion's value with the test's vars (``contains: "{{expected}}"``);
harness's checks are not templates, so a value naming plain vars gets their values written in,
test by test, and any other template syntax is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from ...errors import UserError
from .providers import judge_model
from .report import Report
from .sources import Source, comma_values, is_ref, read_data, read_text, ref_path, resolve

_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_TEXT = {"equals", "contains", "icontains", "starts-with", "ends-with", "regex"}
_LISTS = {"contains-any", "contains-all", "icontains-any", "icontains-all"}
#: promptfoo types with a harness check of the same name and argument.
_SAME = _TEXT | _LISTS | {"finish-reason"}


@dataclass(frozen=True)
class Stub:
    """A ``javascript``/``python`` assertion to port: a function the module declares."""

    function: str
    kind: str
    code: str
    where: str


@dataclass
class Stubs:
    module: str  # the module's name (a file ``<module>.py`` beside the suites)
    items: list[Stub] = field(default_factory=list)

    def add(self, kind: str, code: str, where: str) -> str:
        name = f"check_{len(self.items) + 1}"
        self.items.append(Stub(name, kind, code, where))
        return f"{self.module}:{name}"


@dataclass
class Context:
    source: Source
    report: Report
    stubs: Stubs
    judge: str | None = None  # the grading model (options.provider), for llm-rubric
    variables: dict[str, Any] | None = None  # the test's vars; None: not known (defaultTest)


class _Skip(Exception):
    """This assertion is not converted; the message says why."""


def templated(value: Any) -> bool:
    """Whether an assertion's value (anywhere inside it) is a template of promptfoo's."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(templated(v) for v in value.values())
    if isinstance(value, list):
        return any(templated(v) for v in value)
    return False


def convert_all(items: Any, ctx: Context, container: Any = None, key: Any = None) -> list[Any]:
    """A list of assertions -> the check items that could be converted (the rest are reported)."""
    if not isinstance(items, list):
        ctx.report.skip(ctx.source.at(container, key), "assert", "expected a list of assertions")
        return []
    out = []
    for index, item in enumerate(items):
        check = convert(item, ctx, ctx.source.at(items, index))
        if check is not None:
            out.append(check)
    return out


def convert(item: Any, ctx: Context, where: str) -> Any | None:
    kind = item.get("type") if isinstance(item, dict) else None
    if not isinstance(kind, str):
        ctx.report.skip(where, "assertion", "an assertion is a mapping with a type")
        return None
    try:
        check = _check(item, kind, ctx, where)
    except _Skip as exc:
        ctx.report.skip(where, kind, str(exc))
        return None
    except UserError as exc:
        ctx.report.skip(where, kind, f"its value could not be read: {exc}")
        return None
    if "weight" in item:
        weight = item["weight"]
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            ctx.report.skip(where, f"{kind} weight", f"not a number >= 0: {weight!r}")
        else:
            check = {**(check if isinstance(check, dict) else {check: None}), "weight": weight}
    for extra in ("metric", "transform", "contextTransform", "rubricPrompt", "provider", "config"):
        if extra in item and not (extra in ("provider", "config") and kind.endswith(("llm-rubric", "javascript",
                                                                                       "python"))):
            why = {"transform": "the check sees the answer untransformed",
                   "contextTransform": "the check sees the answer untransformed",
                   "metric": "harness reports each check by its own name",
                   "rubricPrompt": "harness grades with its own judge prompt"}.get(extra, "no equivalent in harness")
            ctx.report.skip(where, f"{kind} {extra}", why)
    return check


def _check(item: dict[str, Any], kind: str, ctx: Context, where: str) -> Any:
    negate = kind.startswith("not-")
    base = kind[4:] if negate else kind
    value = _value(item.get("value"), ctx, where)
    check = _positive(base, value, item, ctx, where)
    if not negate:
        return check
    if isinstance(check, str):
        return f"not-{check}"
    name, arg = next(iter(check.items()))
    return {f"not-{name}": arg}


def _value(value: Any, ctx: Context, where: str) -> Any:
    """The value with its file read and its plain ``{{var}}`` written in."""
    if is_ref(value):
        name, function = ref_path(value)
        if function is None and not name.endswith((".js", ".py", ".ts", ".cjs", ".mjs")):
            path = resolve(ctx.source, name)[0]
            value = read_data(ctx.source, path) if path.suffix.lower() in (".json", ".yaml", ".yml", ".jsonl") \
                else read_text(ctx.source, path).rstrip("\n")
    if not templated(value):
        return value
    return _substitute(value, ctx)


def _substitute(value: Any, ctx: Context) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, ctx) for v in value]
    if not isinstance(value, str):
        return value
    if ctx.variables is None:
        raise _Skip("its value is a template of the test's vars, and no test is known here")
    names = _VAR.findall(value)
    rest = _VAR.sub("", value)
    if "{{" in rest or "{%" in rest:
        raise _Skip(f"its value is a template ({value!r}) and harness checks are not rendered; only "
                    "plain {{var}} references are written in")
    missing = [n for n in names if n not in ctx.variables]
    if missing:
        raise _Skip(f"its value names vars the test does not set: {', '.join(missing)}")
    for name in names:
        if not isinstance(ctx.variables[name], (str, int, float, bool)):
            raise _Skip(f"its value names the var {name!r}, which is not plain text")
    return _VAR.sub(lambda m: str(ctx.variables[m.group(1)]), value)  # type: ignore[index]


def _positive(base: str, value: Any, item: dict[str, Any], ctx: Context, where: str) -> Any:
    if base in _TEXT:
        return _text_check(base, value, ctx, where)
    if base in _LISTS:
        values = comma_values(value) if isinstance(value, str) else value
        if not isinstance(values, list) or not values or not all(isinstance(v, (str, int, float)) for v in values):
            raise _Skip(f"expected a list of texts, got {value!r}")
        return {base: [str(v) for v in values]}
    if base == "finish-reason":
        return {base: value}
    if base == "is-json":
        return "is-json" if value in (None, "") else {"json-schema": _schema(value)}
    if base == "contains-json":
        ctx.report.note(where, base, "converted to 'the answer, or the code fence in it, is JSON': promptfoo "
                        "also finds JSON inside prose")
        if value in (None, ""):
            return {"is-json": {"fence": True}}
        return {"json-schema": {"schema": _schema(value), "fence": True}}
    if base == "is-valid-openai-tools-call":
        return {"all-of": ["tool-schema", "not-no-tool-call"]}
    if base in ("cost", "latency"):
        threshold = item.get("threshold")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise _Skip("no threshold: a cost or latency without one only records a metric")
        return {base: threshold}
    if base == "word-count":
        return {"length": {"words": _bounds(value)}}
    if base == "llm-rubric":
        return _rubric(value, item, ctx, where)
    if base in ("javascript", "python"):
        return _stub(base, value, item, ctx, where)
    if base == "assert-set":
        return _assert_set(item, ctx, where)
    raise _Skip("harness has no check for it")


def _text_check(base: str, value: Any, ctx: Context, where: str) -> Any:
    if base == "equals" and isinstance(value, (dict, list)):
        return {"json-path": {"path": "$", "equals": value}}
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or value == "":
        raise _Skip(f"expected a text, got {value!r}")
    text = str(value)
    if base == "regex":
        return {"regex": _python_regex(text)}
    if base in ("equals", "starts-with", "ends-with"):
        ctx.report.note(where, base, "harness ignores whitespace around the answer "
                        "(equals: both ends; starts-with: its start; ends-with: its end)")
    return {base: text}


def _python_regex(pattern: str) -> str:
    """A JavaScript pattern in Python's syntax: named groups are spelt ``(?P<name>``; the rest of
    what promptfoo's patterns use is the same. One Python cannot compile is not converted."""
    converted = re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern)
    try:
        re.compile(converted)
    except re.error as exc:
        raise _Skip(f"the pattern is not valid in Python ({exc})") from None
    return converted


def _schema(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise _Skip(f"the schema is not YAML or JSON ({exc})") from None
    if not isinstance(value, (dict, bool)):
        raise _Skip(f"expected a JSON schema, got {value!r}")
    return value


def _bounds(value: Any) -> dict[str, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return {"min": value, "max": value}
    if isinstance(value, dict) and value and set(value) <= {"min", "max"}:
        return {k: int(v) for k, v in value.items()}
    raise _Skip(f"expected a number of words or {{min, max}}, got {value!r}")


def _rubric(value: Any, item: dict[str, Any], ctx: Context, where: str) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise _Skip("expected the rubric as text")
    arg: dict[str, Any] = {"rubric": value.strip()}
    threshold = item.get("threshold")
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
            raise _Skip(f"threshold must be a score in 0..1, got {threshold!r}")
        arg["threshold"] = threshold
    judge = ctx.judge
    if "provider" in item:
        judge = judge_model(item["provider"])
        if judge is None:
            ctx.report.skip(where, "llm-rubric provider", f"{item['provider']!r} is not an OpenAI model; "
                            "harness's default judge grades it")
    if judge:
        arg["model"] = judge
    ctx.report.note(where, "llm-rubric", "graded by harness's judge prompt (verdict, score, reason in "
                    "strict JSON), not promptfoo's")
    return {"rubric": arg["rubric"]} if set(arg) == {"rubric"} else {"rubric": arg}


def _stub(kind: str, value: Any, item: dict[str, Any], ctx: Context, where: str) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise _Skip("expected its code or a file:// reference")
    code = value
    if item.get("config"):
        code += f"\n\nconfig: {item['config']!r}"
    target = ctx.stubs.add(kind, code, where)
    threshold = item.get("threshold")
    if isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and 0 <= threshold <= 1:
        return {"python": {"function": target, "threshold": threshold}}
    return {"python": target}


def _assert_set(item: dict[str, Any], ctx: Context, where: str) -> Any:
    if item.get("threshold") not in (None, 1, 1.0):
        raise _Skip("a threshold on a set (part of its checks passing) has no harness equivalent")
    inner = item.get("assert")
    if not isinstance(inner, list) or not inner:
        raise _Skip("expected assert: a list of assertions")
    before = len(ctx.report.skipped)
    checks = [convert(sub, ctx, ctx.source.at(inner, i)) for i, sub in enumerate(inner)]
    if len(ctx.report.skipped) > before or any(c is None for c in checks):
        raise _Skip("part of the set could not be converted (listed above), so the set is not")
    return {"all-of": checks}
