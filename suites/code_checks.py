"""A custom check for suites/binary_search.yaml: run the function the model wrote.

The code runs in a fresh namespace with no builtins beyond the few a binary search needs, on a
fixed table of inputs; this is an example of a `python:` check, not a general sandbox.
"""

from __future__ import annotations

import re

_SAFE_BUILTINS = {"len": len, "range": range, "min": min, "max": max, "abs": abs}
_CASES = [([], 3, -1), ([1], 1, 0), ([1, 3, 5, 7, 9], 7, 3), ([1, 3, 5, 7, 9], 4, -1),
          (list(range(0, 1000, 2)), 998, 499), (list(range(0, 1000, 2)), 0, 0)]


def binary_search_works(output, case):
    match = re.search(r"```(?:python)?\s*\n(.*?)```", output.text, re.DOTALL)
    if not match:
        return False, "no fenced code block in the answer"
    namespace: dict = {"__builtins__": _SAFE_BUILTINS}
    try:
        exec(compile(match.group(1), "<answer>", "exec"), namespace)
    except Exception as exc:  # noqa: BLE001
        return False, f"the code does not run: {type(exc).__name__}: {exc}"
    fn = namespace.get(case.vars["fn"])
    if not callable(fn):
        return False, f"no function named {case.vars['fn']}"
    for items, target, expected in _CASES:
        got = fn(items, target)
        if got != expected:
            return False, f"{case.vars['fn']}({items[:6]}..., {target}) returned {got}, expected {expected}"
    return True, f"correct on {len(_CASES)} inputs"
