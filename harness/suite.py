"""Load a YAML suite, validate it against suite.schema.json, and expand it into Cases.

A Case is everything needed to build one request and judge its answer; it still holds templates,
because rendering belongs to render.py. Expansion (matrix x models x apis x samples) happens here, once,
so every door (CLI, pytest) sees the same ids.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .case_ids import expanded_id
from .cassettes.names import case_file_name, fitted, sample_name
from .checks.targets import TARGET_KEYS, Target
from .errors import UserError
from .project import inherited, project_of
from .record.sampling import Adaptive, adaptive
from .safe_files import is_inside, project_root
from .schemas.declared import check_declared
from .schemas.suite_errors import schema_error, suite_schema
from .suite_paths import cassette_root_of, default_cassette_root, display_path, recorded_files, suite_name_of
from .tools import DEFAULT_MAX_STEPS, ToolSpec, answering_tools, api_tools
from .yamlio import LineDict, LineList, line_of, load_yaml, plain

if TYPE_CHECKING:
    from .datasets import Row

#: Request keys a suite or a case may set; a case's value replaces the suite's.
REQUEST_KEYS = (
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "seed", "stop", "tools",
    "tool_choice", "parallel_tool_calls", "response_format", "stream", "reasoning_effort",
    "verbosity", "extra_body",
)
#: Keys that a case inherits from its suite when it does not set them itself.
_INHERITED = REQUEST_KEYS + ("provider", "model", "models", "messages", "prompt", "system",
                             "samples", "auto_checks", "threshold", "api", "history", "turns",
                             "max_steps")
_INHERITED_KEYS = frozenset(_INHERITED)
#: The keys whose line a case keeps (Case.key_lines).
_LINED_KEYS = (*REQUEST_KEYS, "api", "history", "provider")
#: Cases one suite file may expand to (matrix x models x apis x samples), counted before expanding: ten
#: variables of ten values are 10^10 cases, which no run could hold in memory, let alone send.
MAX_CASES_PER_FILE = 10_000
#: With rows from data files (cases_from), each written out by hand or by an export, a suite may
#: hold more: a replayed case peaks at about 11 KB (50,000 rows: 540 MB), so 100,000 near 1.1 GB.
MAX_DATA_CASES = 100_000


@dataclass(frozen=True)
class Provider:
    """Where requests go. Keys are named by environment variable, never stored in a suite."""

    type: str = "openai"  # openai | azure | compatible
    base_url: str | None = None
    api_key_env: str | None = None
    endpoint: str | None = None
    deployment: str | None = None
    api_version: str | None = None
    json_schema_mode: str = "native"  # "json_object": llama.cpp's form of structured output

    @property
    def key_env(self) -> str:
        if self.api_key_env:
            return self.api_key_env
        return "AZURE_OPENAI_API_KEY" if self.type == "azure" else "OPENAI_API_KEY"


@dataclass(frozen=True)
class CheckSpec:
    """One check as written in YAML: its name, argument, weight, the step or turn it looks at
    (None: the final answer, and every step for tool checks) and where it was written."""

    name: str
    arg: Any
    file: str
    line: int | None
    weight: float = 1.0
    target: Target | None = None


@dataclass(frozen=True)
class Message:
    """A message template: content is a string, a list of parts, or a file name to render."""

    role: str
    content: Any
    line: int | None
    file: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Case:
    """One request to make and judge: a suite case after matrix/model/sample expansion."""

    suite_name: str
    suite_path: Path
    cassette_root: Path
    id: str
    base_id: str
    line: int | None
    model: str
    provider: Provider
    messages: tuple[Message, ...]
    params: dict[str, Any]
    vars: dict[str, Any]
    checks: tuple[CheckSpec, ...]
    sample: int = 0
    auto_checks: bool = True
    skip: str | None = None
    description: str = ""
    threshold: float | None = None
    pricing: dict[str, Any] | None = None  # the suite's price overrides, as written (with lines)
    diff: dict[str, Any] | None = None  # how answers are compared with their baseline
    adaptive: Adaptive | None = None  # samples: {min, max}: more samples while the rate is unclear
    #: Gates on the case's samples taken together (report/sampled.py decides them).
    min_pass_rate: float | None = None
    min_pass_hat_k: tuple[int, float] | None = None  # (k, minimum of pass^k)
    #: The wire API that sends the request (apis/): ``chat`` or ``responses``.
    api: str = "chat"
    #: How a later step of an episode sends the conversation so far: ``full`` (all of it, every
    #: time) or ``chained`` (the Responses API's previous_response_id and only what is new).
    history: str = "full"
    #: The line each request key (and api, history, provider) was written on, suite or case: an
    #: error about a key points at it.
    key_lines: dict[str, int | None] = field(default_factory=dict)
    turns: tuple[Message, ...] = ()  # user messages, each sent after the previous answer
    answering: tuple[ToolSpec, ...] = ()  # tools with impl:/results: (params holds what is sent)
    max_steps: int = DEFAULT_MAX_STEPS
    #: The project's shared template folders (project.py), searched after the suite's own folder.
    prompt_roots: tuple[Path, ...] = ()
    origin: str | None = None  # the data file and line of a case from ``cases_from``

    @property
    def name(self) -> str:
        """The case id with its sample suffix (``id``, ``id#1``, ...), as every report shows it."""
        return sample_name(self.id, self.sample)

    @cached_property
    def node_id(self) -> str:
        """The id shared by the CLI and pytest: ``suites/x.yaml::case-id`` (made once: the runner,
        the gates and every report ask for it)."""
        return f"{self.suite_path.as_posix()}::{self.id}"

    @cached_property
    def cassette_path(self) -> Path:
        """cassettes/<suite>/<case-id>.yaml; extra samples add ``#<n>``; over-long names are
        shortened (cassettes/names.py)."""
        return _cassette_folder(self.cassette_root, self.suite_name) / case_file_name(self.id, self.sample)


@lru_cache(maxsize=256)
def _cassette_folder(root: Path, suite_name: str) -> Path:
    """cassettes/<suite>: shared by every case of a suite, so joined once (a Path join is a parse)."""
    return root / fitted(suite_name)


@dataclass(frozen=True)
class Suite:
    """A loaded suite: its file, its name, and its expanded cases."""

    path: Path
    name: str
    cases: tuple[Case, ...]
    options: dict[str, Any] = field(default_factory=dict)


def looks_like_suite(path: Path) -> bool:
    """A cheap sniff used when walking folders: a top-level ``cases:`` key (never opening a
    FIFO or device, which could block for ever)."""
    if not path.is_file():
        return False
    try:
        with path.open(encoding="utf-8") as fh:
            return any(line.startswith(("cases:", "cases_from:")) for line in fh)
    except (OSError, UnicodeDecodeError):
        return False


def _parse_checks(raw: Any, file: Path, case: str | None = None) -> list[CheckSpec]:
    specs: list[CheckSpec] = []
    for i, item in enumerate(raw or []):
        line = line_of(raw, i)
        weight, target = 1.0, None
        if isinstance(item, str):
            name, arg = item, None
        else:
            meta = {k: v for k, v in item.items() if k in ("weight", *TARGET_KEYS)}
            names = [k for k in item if k not in meta]
            if len(names) != 1:
                raise UserError(
                    f"a check must have exactly one name, found {names or 'none'} "
                    "(write each check as its own list item)", file=file, line=line, case=case)
            name = str(names[0])
            arg = item[name]
            if "weight" in meta:
                if not isinstance(meta["weight"], (int, float)) or meta["weight"] < 0:
                    raise UserError("check weight must be a number >= 0", file=file, line=line, case=case)
                weight = float(meta["weight"])
            try:
                target = Target.from_item(meta)
            except ValueError as exc:
                raise UserError(f"check {name!r}: {exc}", file=file, line=line, case=case) from None
        specs.append(CheckSpec(name=name, arg=arg, file=str(file), line=line, weight=weight, target=target))
    return specs


def _parse_messages(raw: Any) -> tuple[Message, ...]:
    out = []
    for i, msg in enumerate(raw):
        extra = tuple((k, v) for k, v in msg.items() if k not in ("role", "content", "file"))
        out.append(Message(role=msg["role"], content=msg.get("content"), line=line_of(raw, i),
                           file=msg.get("file"), extra=extra))
    return tuple(out)


def _messages_for(settings: dict[str, Any], lines: dict[str, int | None]) -> tuple[Message, ...]:
    msgs: list[Message] = []
    if "system" in settings:
        msgs.append(Message("system", settings["system"], lines.get("system")))
    if "messages" in settings:
        msgs.extend(_parse_messages(settings["messages"]))
    if "prompt" in settings:
        msgs.append(Message("user", settings["prompt"], lines.get("prompt")))
    return tuple(msgs)


def _turns(raw: Any) -> tuple[Message, ...]:
    """``turns:`` items, each a user message: a template, or ``{file: ...}`` like a prompt file."""
    return tuple(Message("user", None, line_of(raw, i), file=t["file"]) if isinstance(t, dict)
                 else Message("user", t, line_of(raw, i)) for i, t in enumerate(raw or []))


def load_suite(path: Path, *, models_override: tuple[str, ...] = (),
               samples_override: int | str | dict[str, Any] | None = None,
               owns: Callable[[Path, str], bool] | None = None) -> Suite:
    """Parse, validate and expand one suite file; the overrides replace the file's models and
    samples (a number, ``"auto"`` or ``{min, max}``, as ``samples:`` takes). ``owns`` (a shard's:
    does it run the case of this suite and id?) checks only those cases against the schema; every
    case is still expanded, as the whole run's ids place the shard's cases in it (shard.py)."""
    display = display_path(path)
    if not is_inside(path, project_root(path)):
        raise UserError("the suite file is a symlink to outside its project", file=display)
    project = project_of(path)
    doc = load_yaml(path)
    if not isinstance(doc, dict):
        raise UserError("a suite must be a YAML mapping with a 'cases' list", file=display, line=1)
    defaults = inherited(project, doc)  # the project's defaults: the suite's own keys win
    schema_error(doc, display, None if owns is None else lambda case_id: owns(display, case_id))
    check_declared(doc, path, display=display)
    name = suite_name_of(doc, path, display)
    root = cassette_root_of(doc, path, display, name)
    suite_checks = _parse_checks(doc.get("checks"), display)
    suite_vars = dict(doc.get("vars") or {})
    suite_matrix = dict(doc.get("matrix") or {})
    cases: list[Case] = []
    seen: dict[str, str] = {}
    total = 0
    recorded: frozenset[str] | None = None
    # Each written case, and each cases_from source: one written case expanded over its rows.
    written: list[tuple[Any, int | None, tuple[Row | None, ...]]] = [
        (raw, line_of(doc["cases"], i), (None,)) for i, raw in enumerate(doc.get("cases") or [])]
    if doc.get("cases_from") is not None:  # the data readers are imported only for a suite that has data
        from .datasets import load_datasets

        written += [({"id": f"cases_from {data.source.file}"}, data.source.line, data.rows)
                    for data in load_datasets(doc, path, display)]
    inherited_settings = {**defaults, **{k: doc[k] for k in _INHERITED if k in doc}}  # once, copied per case
    inherited_lines = {k: line_of(doc, k) for k in inherited_settings if k in doc}
    suite_provider = Provider(**inherited_settings.get("provider", {}))  # frozen: one for every case
    for raw, case_line, rows in written:
        settings = dict(inherited_settings)
        lines = dict(inherited_lines)
        own = {k: v for k, v in raw.items() if k in _INHERITED_KEYS}
        if "model" in own:
            settings.pop("models", None)
        if "models" in own:
            settings.pop("model", None)
        if "messages" in own:
            # A case's own conversation replaces the suite's conversation, and the suite's final
            # prompt with it; the suite's system message still comes first.
            settings.pop("prompt", None)
        settings.update(own)
        lines.update({k: line_of(raw, k) for k in own})
        if models_override:
            settings.pop("model", None)
            settings["models"] = list(models_override)
        if samples_override is not None:
            settings["samples"] = samples_override
        models = settings.get("models") or ([settings["model"]] if "model" in settings else [])
        api_setting = settings.get("api", "chat")
        wire_apis = [api_setting] if isinstance(api_setting, str) else list(api_setting)
        if not models:
            raise UserError("no model: set 'model' or 'models' on the suite or the case",
                            file=display, line=case_line, case=raw["id"])
        messages = _messages_for(settings, lines)
        turns = _turns(settings.get("turns"))
        if not messages and not turns:
            raise UserError("no messages: set 'messages', 'prompt' or 'system'",
                            file=display, line=case_line, case=raw["id"])
        provider = Provider(**settings["provider"]) if "provider" in own else suite_provider
        params = {k: plain(settings[k]) for k in REQUEST_KEYS if k in settings}
        answering = answering_tools(settings.get("tools"), file=display, case=raw["id"])
        if answering:  # impl/results are harness's own: never sent, never in a cassette
            params["tools"] = api_tools(params["tools"])
        matrix = {**suite_matrix, **dict(raw.get("matrix") or {})}
        rule = adaptive(settings.get("samples"), case_rate=raw.get("min_pass_rate"),
                        suite_rate=doc.get("min_pass_rate"), file=display, case=raw["id"],
                        line=case_line if samples_override is not None else lines.get("samples", case_line),
                        flag=samples_override is not None)
        samples = rule.min if rule else int(settings.get("samples", 1))
        total += (math.prod(len(v) for v in matrix.values()) * len(models) * len(wire_apis)
                  * (rule.max if rule else samples)) * len(rows)
        _check_total(total, rows, display, case_line, raw["id"])
        key_lines = {k: lines.get(k) for k in _LINED_KEYS if k in settings}
        combos = [dict(zip(matrix, values, strict=True)) for values in itertools.product(*matrix.values())] \
            if matrix else [{}]
        checks = tuple(suite_checks + _parse_checks(raw.get("checks"), display, raw["id"]))
        hat_k = _pass_hat_k(raw, samples, display, case_line)
        skip = raw.get("skip")
        for combo, row in itertools.product(combos, rows):
            for model, wire_api in itertools.product(models, wire_apis):
                base_id = raw["id"] if row is None else row.id
                case_id = expanded_id(base_id, list(combo.values()), model if len(models) > 1 else None,
                                      wire_api if len(wire_apis) > 1 else None)
                if case_id in seen:
                    raise UserError(f"duplicate case id {case_id!r} (first at {seen[case_id]})",
                                    file=row.file if row else display, line=row.line if row else case_line,
                                    case=case_id)
                seen[case_id] = row.origin if row else f"line {case_line}"
                first = Case(
                    suite_name=name, suite_path=display, cassette_root=root, id=case_id,
                    base_id=base_id, line=case_line, model=model, provider=provider,
                    messages=messages, params=params,
                    vars={**suite_vars, **(row.vars if row else dict(raw.get("vars") or {})), **combo},
                    checks=checks, sample=0,
                    auto_checks=bool(settings.get("auto_checks", True)),
                    skip=(skip if isinstance(skip, str) else "skipped") if skip else None,
                    description=raw.get("description", ""),
                    threshold=settings.get("threshold"),
                    pricing=doc.get("pricing"),
                    diff=doc.get("diff"),
                    adaptive=rule,
                    min_pass_rate=raw.get("min_pass_rate"),
                    min_pass_hat_k=hat_k,
                    api=wire_api,
                    history=str(settings.get("history", "full")),
                    key_lines=key_lines,
                    turns=turns, answering=answering,
                    max_steps=int(settings.get("max_steps", DEFAULT_MAX_STEPS)),
                    prompt_roots=project.prompts,
                    origin=row.origin if row else None,
                )
                taken = list(range(samples))
                if rule is not None:
                    if recorded is None:
                        recorded = recorded_files(first.cassette_path.parent)
                    taken += [k for k in range(rule.min, rule.max)
                              if case_file_name(case_id, k) in recorded]
                cases.extend(replace(first, sample=k) if k else first for k in taken)
    options = {k: doc[k] for k in doc
               if k not in _INHERITED and k not in ("cases", "cases_from", "checks", "vars", "matrix", "pricing")}
    return Suite(path=display, name=name, cases=tuple(cases), options=options)


def _check_total(total: int, rows: tuple[Row | None, ...], display: Path, line: int | None, case: str) -> None:
    """A suite's cases are held in memory: at most MAX_CASES_PER_FILE from what it writes and
    multiplies, MAX_DATA_CASES in all once rows from data files (each written out) are in it."""
    if rows == (None,) and total > MAX_CASES_PER_FILE:
        raise UserError(f"this case brings the suite to {total:,} cases (matrix x models x apis x samples); "
                        f"a suite file may expand to at most {MAX_CASES_PER_FILE:,}: split it or "
                        "shrink the matrix", file=display, line=line, case=case)
    if total > MAX_DATA_CASES:
        raise UserError(f"these {len(rows):,} rows bring the suite to {total:,} cases (rows x matrix x models x "
                        f"apis x samples); with rows from data a suite file may expand to at most "
                        f"{MAX_DATA_CASES:,}: select rows with where: or limit:, or split it", file=display,
                        line=line, case=case)


def _pass_hat_k(raw: dict[str, Any], samples: int, display: Path, line: int | None) -> tuple[int, float] | None:
    """A case's pass^k floor as (k, minimum); a k above its samples could never be estimated."""
    gate = raw.get("min_pass_hat_k")
    if gate is None:
        return None
    k, minimum = int(gate["k"]), float(gate["min"])
    if k > samples:
        raise UserError(f"min_pass_hat_k: k is {k} but the case has {samples} sample(s); pass^k needs at "
                        f"least k samples (set samples: {k} or more)", file=display,
                        line=line_of(raw, "min_pass_hat_k") or line, case=raw["id"])
    return k, minimum



__all__ = ["REQUEST_KEYS", "Case", "CheckSpec", "LineDict", "LineList", "Message", "Provider", "Suite",
           "default_cassette_root", "load_suite", "looks_like_suite", "suite_schema"]
