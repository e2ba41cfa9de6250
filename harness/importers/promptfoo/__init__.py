"""``harness import promptfoo``: write harness suites from a promptfoo config.

One suite per prompt and per group of providers that differ only in their model (those become
``models:``), each holding every test as a case; defaultTest gives the suite's vars and checks.
Then the suites written are planned as ``harness validate`` plans them (schema, templates rendered
with every case's vars, checks bound), and what does not pass is reported with the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ...cassettes.files import atomic_write
from ...errors import HarnessError, UserError
from ...safe_files import project_root
from ...yamlio import load_yaml, plain
from .asserts import Stubs
from .cases import Builder
from .prompts import Prompt, convert_prompts, jinja, jinja_messages
from .providers import Target, convert_providers
from .report import Item, Report
from .sources import Source, read_text
from .stubs import stub_module
from .tests import load_tests, test_from

_TOP_KEYS = {"description", "prompts", "providers", "targets", "defaultTest", "tests"}
_IGNORED = {"outputPath": "harness writes reports with --report", "sharing": "no equivalent",
            "evaluateOptions": "harness's own run options (--concurrency, --samples, ...)",
            "env": "set these in the environment", "nunjucksFilters": "custom template filters are not "
            "available in harness's templates", "scenarios": "write each scenario's tests as cases"}


@dataclass(frozen=True)
class Conversion:
    written: tuple[Path, ...]
    kept: tuple[Path, ...]  # already there and different: left alone (no --force)
    stubs: tuple[str, ...]  # checks to write by hand
    notes: tuple[Item, ...]
    skipped: tuple[Item, ...]
    invalid: tuple[str, ...]  # what `harness validate` says of the suites written


def convert_config(config: Path, out: Path, *, force: bool = False) -> Conversion:
    doc = load_yaml(config)
    if not isinstance(doc, dict):
        raise UserError("a promptfoo config is a YAML mapping with prompts, providers and tests", file=config)
    source = Source(config.parent, project_root(config), config.name)
    report = Report()
    for key in set(doc) - _TOP_KEYS:
        report.skip(source.at(doc, key), key, _IGNORED.get(key, "no equivalent in a harness suite"))
    name = suite_name(config)
    prompts = convert_prompts(doc.get("prompts"), source, report, doc)
    targets = convert_providers(doc.get("providers", doc.get("targets")), source, report, doc,
                                "providers" if "providers" in doc else "targets")
    stubs = Stubs(f"{name.replace('-', '_').replace('.', '_')}_checks")
    builder = Builder(source, report, stubs)
    default = _default_test(doc.get("defaultTest"), source, report, doc)
    suite_defaults, per_case = builder.defaults(default)
    tests = load_tests(doc.get("tests"), source, report, doc, "tests")
    cases = [builder.case(test, n, default, per_case) for n, test in enumerate(tests, 1)]
    if not cases:
        report.skip(source.at(doc, "tests"), "tests", "no test to convert: a suite needs cases")
    files: dict[Path, str] = {}
    if prompts and targets and cases:
        groups: dict[str, list[Target]] = {}
        for target in targets:
            groups.setdefault(target.group(), []).append(target)
        for prompt in prompts:
            for group in groups.values():
                stem = _stem(name, prompt, prompts, group, len(groups))
                body = _suite(stem, doc.get("description"), prompt, group, suite_defaults, cases)
                files[out / f"{stem}.yaml"] = _dump(body, config)
        if stubs.items:
            files[out / f"{stubs.module}.py"] = stub_module(stubs, config.name)
    written, kept = _write(files, force)
    copied, kept_copies = _copy(builder.copies.files, out, source, force)
    suites = [p for p in (*written, *kept) if p.suffix == ".yaml"]
    invalid = _validate(suites) if suites else ()
    return Conversion(tuple(written + copied), tuple(kept + kept_copies),
                      tuple(f"{out / (stubs.module + '.py')}:{s.function} ({s.kind} at {s.where})" for s in stubs.items),
                      tuple(report.grouped_notes()), tuple(report.skipped), invalid)


def suite_name(config: Path) -> str:
    """``x/json-output/promptfooconfig.yaml`` -> ``json-output``; ``evals.yaml`` -> ``evals``."""
    stem = config.name.split(".")[0] if config.name.startswith("promptfooconfig") else config.stem
    parent = config.resolve().parent.name
    if stem == "promptfooconfig":
        extra = config.name[len("promptfooconfig"):].rsplit(".", 1)[0].strip(".")
        stem = f"{parent}-{extra}" if extra else parent
    return _slug(stem) or "promptfoo"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:80]


def _default_test(raw: Any, source: Source, report: Report, doc: Any) -> Any:
    if raw is None:
        return None
    where = source.at(doc, "defaultTest")
    if isinstance(raw, str):
        tests = load_tests(raw, source, report, doc, "defaultTest")
        return tests[0] if tests else None
    if not isinstance(raw, dict):
        report.skip(where, "defaultTest", "expected a mapping")
        return None
    return test_from(raw, source, report, where)


def _stem(name: str, prompt: Prompt, prompts: list[Prompt], group: list[Target], groups: int) -> str:
    parts = [name]
    if len(prompts) > 1:
        parts.append(_slug(prompt.label) or f"prompt-{prompts.index(prompt) + 1}")
    if groups > 1:
        parts.append(_slug(group[0].label if len(group) == 1 else group[0].model))
    return _slug("-".join(parts))


def _suite(stem: str, description: Any, prompt: Prompt, group: list[Target], defaults: Any,
           cases: list[dict[str, Any]]) -> dict[str, Any]:
    suite: dict[str, Any] = {"name": stem}
    if isinstance(description, str) and description:
        suite["description"] = description
    first = group[0]
    if len(group) == 1:
        suite["model"] = first.model
    else:
        suite["models"] = [t.model for t in group]
    if first.provider:
        suite["provider"] = first.provider
    if first.api != "chat":
        suite["api"] = first.api
    suite.update(first.params)
    if prompt.text is not None:
        suite["prompt"] = jinja(prompt.text)
    else:
        suite["messages"] = jinja_messages(prompt.messages)
    if defaults.vars:
        suite["vars"] = defaults.vars
    if defaults.matrix:
        suite["matrix"] = defaults.matrix
    if defaults.checks:
        suite["checks"] = defaults.checks
    suite["cases"] = cases
    return suite


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data and not any(line != line.rstrip() for line in data.splitlines()) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)



def _dump(suite: dict[str, Any], config: Path) -> str:
    text = yaml.dump(plain(suite), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                     default_flow_style=False)
    return f"# Converted from {config.name} by harness import promptfoo.\n{text}"


def _write(files: dict[Path, str], force: bool) -> tuple[list[Path], list[Path]]:
    written, kept = [], []
    for path, text in files.items():
        if path.is_file() and not force:
            if path.read_text(encoding="utf-8") != text:
                kept.append(path)
            continue
        atomic_write(path, text)
        written.append(path)
    return written, kept


def _copy(copies: dict[str, Path], out: Path, source: Source, force: bool) -> tuple[list[Path], list[Path]]:
    files = {}
    for rel, src in copies.items():
        dest = out / rel
        if dest.resolve() != src.resolve():
            files[dest] = read_text(source, src)
    return _write(files, force)


def _validate(suites: list[Path]) -> tuple[str, ...]:
    from ...runner import collect, plan, select_cases

    try:
        found, selected = collect([str(p) for p in suites])
        planned, errors = plan(select_cases(found, selected, None), check_limits=True)
    except HarnessError as exc:
        return (str(exc),)
    return tuple(str(e) for e in errors) + tuple(str(p.refused) for p in planned if p.refused)
