"""promptfoo tests -> harness cases (and defaultTest -> the suite's own vars and checks).

A test's vars become the case's ``vars``; a var given as a list becomes a ``matrix`` entry, since
promptfoo runs every combination of list values (unless ``disableVarExpansion``). A var read from a
text file becomes ``{file: ...}``, the file copied beside the suites (harness reads only files inside
the suite's folder); a JSON or YAML file's value is written in. Case ids come from the test's
description (``capital-of-france``), else its position (``test-3``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import UserError
from . import asserts
from .asserts import Context, Stubs
from .providers import judge_model
from .report import Report
from .sources import Source, is_ref, read_data, ref_path, resolve
from .tests import Test

_IMAGE = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".pdf", ".mp3", ".wav", ".mp4")


@dataclass
class Copies:
    """Files to copy beside the suites: destination (relative to the suites' folder) -> source."""

    files: dict[str, Path] = field(default_factory=dict)

    def add(self, path: Path, base: Path) -> str:
        try:
            rel = path.relative_to(base).as_posix()
        except ValueError:
            rel = f"files/{path.name}"
        if rel.startswith("../") or "/../" in rel:
            rel = f"files/{path.name}"
        self.files.setdefault(rel, path)
        return rel


@dataclass
class Built:
    vars: dict[str, Any]
    matrix: dict[str, list[Any]]
    checks: list[Any]


class Builder:
    """Builds the cases of one config; the stubs and copies it collects are written with them."""

    def __init__(self, source: Source, report: Report, stubs: Stubs) -> None:
        self.source = source
        self.report = report
        self.stubs = stubs
        self.copies = Copies()
        self._ids: set[str] = set()

    def defaults(self, default: Test | None) -> tuple[Built, bool]:
        """The suite's vars, matrix and checks from defaultTest, and whether its assertions must go
        to every case instead (their values are templates of each test's vars)."""
        if default is None:
            return Built({}, {}, []), False
        vars_, matrix = self._vars(default.vars, default.where, default.options)
        if any(asserts.templated(a.get("value")) for a in default.asserts if isinstance(a, dict)):
            return Built(vars_, matrix, []), True
        ctx = Context(default.source, self.report, self.stubs, self._judge(default, None))
        return Built(vars_, matrix, asserts.convert_all(default.asserts, ctx)), False

    def case(self, test: Test, number: int, default: Test | None, per_case_defaults: bool) -> dict[str, Any]:
        vars_, matrix = self._vars(test.vars, test.where, test.options)
        merged = {**(default.vars if default else {}), **test.vars}
        judge = self._judge(test, default)
        checks: list[Any] = []
        if per_case_defaults and default is not None:
            checks += asserts.convert_all(default.asserts, Context(default.source, self.report, self.stubs, judge,
                                                                   merged))
        checks += asserts.convert_all(test.asserts, Context(test.source, self.report, self.stubs, judge, merged))
        self._options(test)
        case: dict[str, Any] = {"id": self._id(test, number)}
        if test.description:
            case["description"] = test.description
        if vars_:
            case["vars"] = vars_
        if matrix:
            case["matrix"] = matrix
        if checks:
            case["checks"] = checks
        if test.threshold is not None:
            case["threshold"] = test.threshold
        return case

    def _judge(self, test: Test, default: Test | None) -> str | None:
        for options in (test.options, default.options if default else {}):
            if "provider" in options:
                model = judge_model(options["provider"])
                if model is None:
                    self.report.skip(test.where, "options.provider", f"{options['provider']!r} is not an "
                                     "OpenAI model; harness's default judge grades llm-rubric")
                return model
        return None

    def _options(self, test: Test) -> None:
        for key in set(test.options) - {"provider", "disableVarExpansion"}:
            why = {"transform": "the checks see the answer untransformed",
                   "postprocess": "the checks see the answer untransformed",
                   "prefix": "write it into the prompt", "suffix": "write it into the prompt"}
            self.report.skip(test.source.at(test.options, key), f"options.{key}",
                             why.get(key, "no equivalent in a harness case"))

    def _id(self, test: Test, number: int) -> str:
        base = re.sub(r"[^a-z0-9]+", "-", (test.description or "").lower()).strip("-")[:60].strip("-")
        base = base or f"test-{number}"
        name, n = base, 2
        while name in self._ids:
            name, n = f"{base}-{n}", n + 1
        self._ids.add(name)
        return name

    def _vars(self, given: dict[str, Any], where: str, options: dict[str, Any]) -> tuple[dict[str, Any],
                                                                                          dict[str, list[Any]]]:
        vars_: dict[str, Any] = {}
        matrix: dict[str, list[Any]] = {}
        expand = not options.get("disableVarExpansion")
        for name, value in given.items():
            if not isinstance(name, str) or not name.isidentifier():
                self.report.skip(where, f"var {name!r}", "not a name a template can use")
                continue
            if isinstance(value, list) and expand:
                values = [self._value(v, name, where) for v in value]
                if values and all(v is not _SKIP for v in values):
                    matrix[name] = values
                continue
            converted = self._value(value, name, where)
            if converted is not _SKIP:
                vars_[name] = converted
        return vars_, matrix

    def _value(self, value: Any, name: str, where: str) -> Any:
        if not is_ref(value):
            return value
        file, function = ref_path(value)
        if function is not None or file.endswith((".js", ".py", ".ts", ".cjs", ".mjs")):
            self.report.skip(where, f"var {name}", "a value computed by code cannot be converted")
            return _SKIP
        if file.lower().endswith(_IMAGE):
            self.report.skip(where, f"var {name}", "promptfoo sends this file base64-encoded; in harness, "
                             "use an image_url part with file:")
            return _SKIP
        try:
            paths = resolve(self.source, file)
            if len(paths) != 1:
                raise UserError(f"{file!r} names {len(paths)} files; a var is one")
            if paths[0].suffix.lower() in (".json", ".yaml", ".yml"):
                return read_data(self.source, paths[0])
        except UserError as exc:
            self.report.skip(where, f"var {name}", str(exc))
            return _SKIP
        return {"file": self.copies.add(paths[0], self.source.base)}


_SKIP: Any = object()
