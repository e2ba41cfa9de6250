"""The one place templates are rendered: a sandboxed, bounded Jinja environment per suite folder.

Prompts come from suite files that may be written by anyone who can open a pull request, so
rendering runs in a jinja2 SandboxedEnvironment (no attribute tricks, no file or process access)
bounded in time and size (template_sandbox.py, template_checks.py, template_limits.py), with
StrictUndefined (a typo in a variable name is an error, not an empty string). Files a suite names
(includes, message files, images) are read through safe_files, only from inside the suite's own
folder tree, or from one of the project's shared template folders (``prompts:`` in the project
file, which project.py keeps inside the project): the suite's folder first, then those in order.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import safe_files
from .errors import UserError
from .schemas.files import is_file_ref
from .template_checks import check_printable, check_template_source
from .template_limits import Budget, TemplateLimit, active
from .yamlio import line_of

if TYPE_CHECKING:
    import jinja2
    from jinja2.environment import TemplateExpression
    from jinja2.sandbox import SandboxedEnvironment

# jinja2 (about 20 ms to import) is imported on the first text that holds template syntax: most
# prompts are plain text, and a replay of them never compiles a template.


def _find(roots: tuple[Path, ...], relative: str) -> tuple[Path, Path, str] | None:
    """The first of ``roots`` holding ``relative`` (as a name, not yet followed), that path, and
    how an error names the folder (the first root is the suite's own)."""
    for i, root in enumerate(roots):
        path = root / relative
        if os.path.lexists(path):
            return root, path, "the suite's folder" if i == 0 else f"the prompts folder {root}"
    return None


@lru_cache(maxsize=64)
def _environment(roots: tuple[Path, ...]) -> SandboxedEnvironment:
    import jinja2

    from .template_sandbox import BoundedSandbox, SuiteLoader

    return BoundedSandbox(
        loader=SuiteLoader(roots, _find),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,  # send exactly what the suite says (YAML "|-" strips it)
        auto_reload=False,
    )


def forget_templates() -> None:
    """Drop every compiled template and environment, so that what renders next reads the template
    files as they are now. The environments trust a file once loaded (no stat per render), which
    holds within a run; a new run in the same process (``harness.run()`` twice, a second pytest
    session) calls this first (planning.Planner), or it would render a changed file's old text."""
    _environment.cache_clear()
    _compiled.cache_clear()
    _expression.cache_clear()


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


#: A text that is one ``{{ expression }}`` and nothing else (``-`` trims are allowed).
_ONE_EXPRESSION = re.compile(r"\{\{-?(.*?)-?\}\}", re.S)


@lru_cache(maxsize=4096)
def _expression(env: SandboxedEnvironment, source: str) -> TemplateExpression | None:
    """The compiled expression inside ``{{ ... }}``, or None when the text holds more than one."""
    match = _ONE_EXPRESSION.fullmatch(source)
    if match is None or "}}" in match.group(1) or "{{" in match.group(1):
        return None
    check_template_source(source)
    import jinja2

    try:
        return env.compile_expression(match.group(1), undefined_to_none=False)
    except jinja2.TemplateSyntaxError:
        return None  # rendered as a text instead, which reports the error if there is one


@lru_cache(maxsize=256)
def _real_folder(folder: str) -> Path:
    """realpath costs a system call per path component; every case of a suite shares its folder."""
    return Path(os.path.realpath(folder))


class Renderer:
    """Renders the templates of one case; every failure becomes a UserError with file and line.

    Everything one Renderer renders shares one time budget (template_limits.RENDER_SECONDS): make
    one per case, or make one per suite and take ``for_case()`` of it per case (the folders are
    resolved once, which costs system calls). ``shared`` are the project's shared template folders
    (Case.prompt_roots), searched after the suite's own folder."""

    def __init__(self, suite_file: Path, shared: tuple[Path, ...] = ()) -> None:
        self.suite_file = suite_file
        # The folder the suite was named in (not where a symlinked suite file points to).
        self.root = _real_folder(os.path.dirname(os.path.abspath(suite_file)))
        self.roots = (self.root, *(r for r in shared if r != self.root))
        self.budget = Budget()

    @property
    def env(self) -> SandboxedEnvironment:
        """The Jinja environment of these folders, made on the first template (one per folders)."""
        return _environment(self.roots)

    def for_case(self) -> Renderer:
        """This renderer's folders and environment with a fresh time budget: one case's renders."""
        fresh = Renderer.__new__(Renderer)  # not copy.copy: its generic protocol costs more than the rest
        fresh.__dict__.update(self.__dict__, budget=Budget())
        return fresh

    @property
    def _where(self) -> str:
        """The folders a file name is looked up in, for a message saying it was not found."""
        return str(self.root) if len(self.roots) == 1 else " or ".join(str(r) for r in self.roots)

    def _fail(self, exc: BaseException, *, what: str, file: str, line: int | None,
              case: str | None) -> UserError:
        import jinja2
        from jinja2.sandbox import SecurityError

        if isinstance(exc, UserError):  # a file an include named, refused by safe_files
            return UserError(f"{exc.message} (in {what})", file=file, line=line, case=case)
        if isinstance(exc, TemplateLimit):
            kind = "template refused"
        elif isinstance(exc, jinja2.UndefinedError):
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
            with active(self.budget):
                template = _compiled(self.env, source)
                return template.render(variables)
        except Exception as exc:  # noqa: BLE001 - every template failure is the user's to fix
            tline = _template_line(exc, name)
            # Block scalars start on the line after the key; a one-line value is on the key's line.
            at = line if line is None or not tline or tline <= 1 else line + tline
            raise self._fail(exc, what=what, file=str(self.suite_file), line=at, case=case) from None

    def render_value(self, source: str, variables: dict[str, Any], *, line: int | None,
                     case: str | None, what: str) -> Any:
        """A value written in the suite, such as a check's argument: a text that is exactly one
        ``{{ expression }}`` is that expression's value with its type (a list stays a list, ``{{ n
        | int }}`` is a number), any other text is rendered as a message is. The value must be
        plain data, as anything a template prints."""
        try:
            with active(self.budget):
                expression = _expression(self.env, source) if source.startswith("{{") else None
        except Exception as exc:  # noqa: BLE001 - a template over the size limits
            raise self._fail(exc, what=what, file=str(self.suite_file), line=line, case=case) from None
        if expression is None:
            return self.render_string(source, variables, line=line, case=case, what=what)
        import jinja2

        try:
            with active(self.budget):
                value = expression(variables)
                if isinstance(value, jinja2.Undefined):
                    str(value)  # StrictUndefined raises the error that names the variable
                return check_printable(value)
        except Exception as exc:  # noqa: BLE001 - every template failure is the user's to fix
            raise self._fail(exc, what=what, file=str(self.suite_file), line=line, case=case) from None

    def render_file(self, relative: str, variables: dict[str, Any], *, line: int | None,
                    case: str | None) -> str:
        """Render a template file that lives inside the suite's folder tree."""
        import jinja2

        file = str(Path(self.suite_file).parent / relative)
        try:
            with active(self.budget):
                template = self.env.get_template(relative)
        except jinja2.TemplateNotFound as exc:
            raise UserError(f"template file {relative!r} not found inside {self._where} "
                            f"({exc})", file=str(self.suite_file), line=line, case=case) from None
        except UserError as exc:  # the message file itself was refused by safe_files
            raise exc.located(file=self.suite_file, line=line, case=case) from None
        except Exception as exc:  # noqa: BLE001 - a syntax error in the template file
            raise self._fail(exc, what=f"template file {relative}", file=file,
                             line=_template_line(exc, relative), case=case) from None
        try:
            with active(self.budget):
                return template.render(variables)
        except Exception as exc:  # noqa: BLE001
            raise self._fail(exc, what=f"template file {relative}", file=file,
                             line=_template_line(exc, relative), case=case) from None

    def data_url(self, relative: str, *, line: int | None, case: str | None) -> str:
        """A local image (inside the suite folder) as a data: URL for an image_url part."""
        found = _find(self.roots, relative)
        if found is None:
            raise UserError(f"image file {relative!r} not found inside {self._where}",
                            file=str(self.suite_file), line=line, case=case)
        root, target, where = found
        try:
            data = safe_files.read_bytes(target, shown=relative, what="image file", root=root, where=where,
                                         limit=safe_files.IMAGE_LIMIT)
        except UserError as exc:
            raise exc.located(file=self.suite_file, line=line, case=case) from None
        mime = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        payload = base64.b64encode(data).decode("ascii")
        return f"data:{mime};base64,{payload}"

    def variables(self, given: dict[str, Any], *, line: int | None, case: str | None) -> dict[str, Any]:
        """The case's variables with each ``{file: name}`` value replaced by that file's text, read
        like an include: inside the suite's folder, a regular file, capped. Any other mapping stays
        a mapping (structured variables are common); a long document stays out of the suite."""
        if not any(is_file_ref(v) for v in given.values()):
            return given
        out = dict(given)
        for name, value in given.items():
            if is_file_ref(value):
                out[name] = self._variable_file(name, value["file"], line=line_of(value) or line, case=case)
        return out

    def _variable_file(self, name: str, relative: str, *, line: int | None, case: str | None) -> str:
        found = _find(self.roots, relative)
        what = f"file of variable {name!r}"
        try:
            if found is None:
                raise UserError(f"{what} {relative!r} not found inside {self._where}")
            root, target, where = found
            return safe_files.read_text(target, shown=relative, what=what, root=root, where=where)
        except UserError as exc:
            raise exc.located(file=self.suite_file, line=line, case=case) from None
