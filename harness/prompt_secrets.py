"""Refuse a request that would send a secret, while planning, before anything is sent.

A key pasted into a prompt (through a variable, a data file or the template itself) would be sent
to the model, and its cassette, scrubbed on the way to disk, would never match the request again
(STALE forever). So a rendered request that holds the value of a secret in any form (redact.py) is
a user error naming the case and the variable, message, template file or field that holds it, and
the secret's source (an environment variable's name): never the value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .errors import UserError
from .redact import Redactor
from .request import Request
from .suite import Case


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def _holds(secrets: Redactor, value: Any) -> str | None:
    return secrets.found_in("\n".join(_strings(value)))


def refuse_secrets(case: Case, request: Request, secrets: Redactor) -> None:
    """Raise a UserError when the case's rendered request holds a secret."""
    if not secrets:
        return
    source = secrets.found_in(request.text)
    if source is None:
        return
    what, line = _culprit(case, request, secrets, source)
    raise UserError(f"{what} holds the value of a secret ({source}); secrets must not be sent in "
                    "prompts", file=case.suite_path, line=line or case.line, case=case.id)


def _culprit(case: Case, request: Request, secrets: Redactor, source: str) -> tuple[str, int | None]:
    """Which variable, message, template file or request field brought the secret in."""
    for name, value in case.vars.items():
        if _holds(secrets, value) == source:
            return f"variable {name!r}", None
    sent = request.body.get("messages") or []
    for msg, rendered in zip(case.messages, sent, strict=False):
        if _holds(secrets, rendered) == source:
            return (f"the template {msg.file}" if msg.file else f"the {msg.role} message"), msg.line
    for field, value in request.body.items():
        if field != "messages" and _holds(secrets, value) == source:
            return f"the request field {field!r}", None
    return "the request", None
