"""The one place templates are rendered: a sandboxed Jinja environment per suite folder.

Prompts come from suite files that may be written by anyone who can open a pull request, so
rendering runs in jinja2's SandboxedEnvironment (no attribute tricks, no file or process access),
with StrictUndefined (a typo in a variable name is an error, not an empty string), and includes may
only reach files inside the suite's own folder tree.
"""

from __future__ import annotations

import base64
import mimetypes
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from .errors import UserError


class _SuiteLoader(jinja2.FileSystemLoader):
    """FileSystemLoader already refuses '..' escapes; this also refuses absolute names."""

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Any]:
        if template.startswith(("/", "\\")) or ":" in template.split("/")[0]:
            raise jinja2.TemplateNotFound(template)
        return super().get_source(environment, template)


@lru_cache(maxsize=64)
def _environment(root: Path) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=_SuiteLoader(str(root)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,  # send exactly what the suite says (YAML "|-" strips it)
        auto_reload=False,
    )


def _template_line(exc: BaseException, name: str) -> int | None:
    """Jinja rewrites tracebacks so template frames carry the template's own name and line."""
    lineno = getattr(exc, "lineno", None)
    if lineno:
        return int(lineno)
    tb = exc.__traceback__
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename == "<template>" or filename == name or filename.endswith("/" + name):
            found = tb.tb_lineno
        tb = tb.tb_next
    return found


@lru_cache(maxsize=4096)
def _compiled(env: SandboxedEnvironment, source: str) -> jinja2.Template:
    """A suite's message template is shared by all its cases: compile it once, not per case."""
    return env.from_string(source)


class Renderer:
    """Renders the templates of one suite; every failure becomes a UserError with file and line."""

    def __init__(self, suite_file: Path) -> None:
        self.suite_file = suite_file
        self.root = suite_file.resolve().parent
        self.env = _environment(self.root)

    def _fail(self, exc: BaseException, *, what: str, file: str, line: int | None,
              case: str | None) -> UserError:
        if isinstance(exc, jinja2.UndefinedError):
            kind = "undefined variable"
        elif isinstance(exc, SecurityError):
            kind = "template blocked by the sandbox"
        elif isinstance(exc, jinja2.TemplateSyntaxError):
            kind = "template syntax error"
        elif isinstance(exc, jinja2.TemplateNotFound):
            kind = "template include not found inside the suite folder"
        else:
            kind = f"template error ({type(exc).__name__})"
        return UserError(f"{kind} in {what}: {exc}", file=file, line=line, case=case)

    def render_string(self, source: str, variables: dict[str, Any], *, line: int | None,
                      case: str | None, what: str = "message") -> str:
        """Render an inline template written at ``line`` of the suite file."""
        if "{" not in source:
            return source  # no Jinja syntax at all: nothing to render, nothing to compile
        name = f"{self.suite_file.as_posix()}:{line or 0}"
        try:
            template = _compiled(self.env, source)
            return template.render(variables)
        except Exception as exc:  # noqa: BLE001 - every template failure is the user's to fix
            tline = _template_line(exc, name)
            # Block scalars start on the line after the key; a one-line value is on the key's line.
            at = line if line is None or not tline or tline <= 1 else line + tline
            raise self._fail(exc, what=what, file=str(self.suite_file), line=at, case=case) from None

    def render_file(self, relative: str, variables: dict[str, Any], *, line: int | None,
                    case: str | None) -> str:
        """Render a template file that lives inside the suite's folder tree."""
        try:
            template = self.env.get_template(relative)
            return template.render(variables)
        except jinja2.TemplateNotFound as exc:
            raise UserError(f"template file {relative!r} not found inside {self.root} "
                            f"({exc})", file=str(self.suite_file), line=line, case=case) from None
        except Exception as exc:  # noqa: BLE001
            tline = _template_line(exc, relative)
            file = str(Path(self.suite_file).parent / relative)
            raise self._fail(exc, what=f"template file {relative}", file=file, line=tline,
                             case=case) from None

    def data_url(self, relative: str, *, line: int | None, case: str | None) -> str:
        """A local image (inside the suite folder) as a data: URL for an image_url part."""
        target = (self.root / relative).resolve()
        if not target.is_relative_to(self.root) or not target.is_file():
            raise UserError(f"image file {relative!r} not found inside {self.root}",
                            file=str(self.suite_file), line=line, case=case)
        mime = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        payload = base64.b64encode(target.read_bytes()).decode("ascii")
        return f"data:{mime};base64,{payload}"


if sys.version_info < (3, 11):  # pragma: no cover - guarded by pyproject's requires-python
    raise ImportError("harness needs Python 3.11+")
