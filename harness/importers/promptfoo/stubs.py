"""The module of ``python:`` checks that promptfoo's javascript/python assertions become: one
function per assertion, its original code in comments, raising until it is written in Python, so a
case never passes on a check nobody ported.
"""

from __future__ import annotations

from .asserts import Stubs


def stub_module(stubs: Stubs, config: str) -> str:
    lines = [f'"""Checks to write: the javascript/python assertions of {config}, converted by harness import',
             "promptfoo. Each function gets the answer (harness.Output: .text, .tool_calls, .json = (value, error))",
             "and the case (.vars, ...) and returns a bool, a score in 0..1, or (bool, reason). Until written, each",
             'raises, which shows the case as an error, never as a pass."""', "", "from typing import Any", ""]
    for stub in stubs.items:
        lines += ["", f"def {stub.function}(output: Any, case: Any) -> Any:",
                  f"    # promptfoo {stub.kind} assertion at {stub.where}:"]
        lines += [f"    #     {line}".rstrip() for line in stub.code.splitlines() or [""]]
        lines += [f"    raise NotImplementedError({f'port the promptfoo {stub.kind} assertion at {stub.where}'!r})",
                  ""]
    return "\n".join(lines).rstrip() + "\n"
