"""A multi-step case's timeline in the HTML report: each step's user turn, tool calls with their
arguments, the result sent back for each, and the answer, with the step's tokens, cost and latency.

It sits inside the case's own block, collapsed (a ``<details>``, which browsers open with a click,
Enter or Space, with no script), so a page of hundreds of agent runs stays readable. Everything
shown is model output or tool output, i.e. untrusted: every text goes through ``html.escape``, and
the page's Content-Security-Policy would stop a script that slipped through anyway.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

from ..output import ToolCall
from ..trajectory import StepRecord, headline, spend, spend_text
from .html_assets import STEPS_CSS


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def css() -> str:
    """The timeline's styles, sent only on pages that show one: other pages stay byte for byte the same."""
    return f"<style>{STEPS_CSS}</style>"


def _pretty(call: ToolCall) -> str:
    value, problem = call.parsed
    return call.raw_arguments if problem is not None else json.dumps(value, indent=2, ensure_ascii=False)


def _part(kind: str, who: str, text: str) -> str:
    return f'<div class="part {kind}"><span class="who">{who}</span><pre>{e(text)}</pre></div>'


def _step(step: StepRecord, *, final: bool, turns: bool) -> str:
    turn = f' <span class="turn">turn {step.turn + 1}</span>' if turns and step.user is not None else ""
    parts = [f'<li class="step"><div class="step-head"><b>Step {step.number}</b>{turn}'
             f'<span class="num">{e(spend_text(spend([step])))}</span></div>']
    if step.user is not None:
        parts.append(_part("user", "user", step.user))
    output = step.output
    if output.error:
        parts.append(_part("error", "error", output.error))
    if output.content:
        parts.append(_part("answer", "answer" if final else "assistant", output.content))
    refusal = output.extra.get("refusal")
    if refusal:
        parts.append(_part("error", "refusal", str(refusal)))
    for call, result in step.answered():
        parts.append(_part("call", f"calls <code>{e(call.name)}</code>", _pretty(call)))
        if result is None:
            parts.append('<div class="part result"><span class="who">not answered</span></div>')
        elif result.error:
            parts.append(_part("error", f"<code>{e(result.name or call.name)}</code> failed", result.error))
        else:
            parts.append(_part("result", f"<code>{e(result.name or call.name)}</code> returned", result.content))
    if final and not output.content and not output.tool_calls and not output.error:
        parts.append('<div class="part answer"><span class="who">answer</span><pre>(empty)</pre></div>')
    parts.append("</li>")
    return "".join(parts)


def timeline(steps: Sequence[StepRecord], stopped: str | None = None, *, title: str = "Trajectory") -> str:
    """The steps in an ordered list under one collapsed summary line (steps, turns, spend)."""
    if not steps:
        return ""
    turns = len({s.turn for s in steps}) > 1
    items = "".join(_step(s, final=i == len(steps) - 1, turns=turns) for i, s in enumerate(steps))
    note = f'<p class="stopped">stopped: {e(stopped)}</p>' if stopped else ""
    return (f'<details class="trajectory"><summary>{e(title)} · {e(headline(steps, stopped))}</summary>'
            f'<ol class="steps">{items}</ol>{note}</details>')
