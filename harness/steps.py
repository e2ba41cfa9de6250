"""Walk a case's episode, step by step, replaying each step from the cassette or recording it live.

Record and replay are one walk: build step 1's request, find it in the cassette (or send it), parse
the answer; if the model called tools that answer themselves, run them and build the next request
with their results; when it answers without a call and a user turn is left, send that turn; and so
on. Replay therefore runs the loop offline, and a tool result or a turn that changed makes a later
request that the cassette does not hold: the case is STALE at that step, with the diff against the
step recorded there. A request past the last recorded step is MISSING: the recording stopped early
(a budget stop, Ctrl-C, an error), and ``--record-mode once`` records the rest.

A case of one request is the same walk with one step, so its cassette and result stay what they
were. The walk only uses ``build_request`` and the recorded answer's parse, so it does not know
which wire API a case speaks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from . import cassettes
from .budget import Budget, BudgetStop, reserve_or_stop
from .cassettes import Interaction
from .diff import request_diff
from .episode import Conversation, Step, ToolResult
from .errors import HarnessError
from .exchange import LiveResult, replay_output
from .output import Output
from .pricing import PriceTable
from .redact import Redactor
from .render import Renderer
from .request import Request, build_messages, build_request, canonical_form
from .suite import Case
from .tokens import fit_error
from .tools.answer import ToolBox

NOT_STARTED = "not started: the run was stopped"


@dataclass(frozen=True)
class EpisodePlan:
    """How a case goes on after its first answer, prepared when the case is planned."""

    turns: tuple[dict[str, Any], ...]  # the user turns still to send, rendered
    opening: tuple[dict[str, Any], ...]  # the first turn, when it joins the first request
    tools: ToolBox
    max_steps: int  # model calls one user turn may take
    own: int  # messages the case itself renders, before any conversation


def plan_episode(case: Case, renderer: Renderer) -> EpisodePlan | None:
    """Render the turns and load the answering tools; None for a case of one request."""
    if not case.turns and not case.answering:
        return None
    variables = renderer.variables(case.vars, line=case.line, case=case.id)
    turns = build_messages(replace(case, messages=case.turns), renderer, variables)
    opening: list[dict[str, Any]] = []
    if turns and (not case.messages or case.messages[-1].role != "user"):
        opening, turns = turns[:1], turns[1:]
    tools = ToolBox.plan(case, case.answering, renderer, variables)
    return EpisodePlan(tuple(turns), tuple(opening), tools, case.max_steps, len(case.messages))


@dataclass(frozen=True)
class Problem:
    """Why a walk ended before its episode did (never a model's bad answer: that is judged)."""

    status: str  # "stale", "missing", "error" or "skipped"
    step: int  # 0-based step where it happened
    message: str
    detail: str = ""
    output: Output | None = None  # a failed live call's answer, for the report
    budget: bool = False  # skipped because --max-cost would be passed
    failed_call: bool = False  # a live call got no answer to keep


@dataclass
class Walked:
    """The steps walked (each with its interaction, replayed or recorded), and how it ended."""

    steps: list[Step] = field(default_factory=list)
    interactions: list[Interaction] = field(default_factory=list)
    recorded: bool = False  # at least one step was sent live
    stopped: str | None = None  # max_steps reached
    problem: Problem | None = None


Sender = Callable[[Request], LiveResult]


@dataclass
class Walker:
    """Walks one planned case. ``send`` is None for a replay; ``always`` sends every step (``all``);
    otherwise a step is sent only when the cassette misses it, and with ``stale_too`` False (the
    ``once`` mode) a step that was recorded with another request stays stale."""

    case: Case
    first: Request
    plan: EpisodePlan | None
    stored: list[Interaction] | None
    prices: PriceTable
    secrets: Redactor
    base_url: str | None = None
    send: Sender | None = None
    always: bool = False
    stale_too: bool = True
    budget: Budget | None = None
    hit: Interaction | None = None  # step 1's interaction, when the caller found it already
    _live: bool = field(default=False, init=False)

    def walk(self) -> Walked:
        walked = Walked()
        renderer: Renderer | None = None  # made only for a later step: most cases have one
        plan = self.plan
        history: list[dict[str, Any]] = list(plan.opening) if plan else []
        turns = list(plan.turns) if plan else []
        request, turn, in_turn, index = self.first, 0, 0, 0
        while True:
            got = self._interaction(request, index)
            if isinstance(got, Problem):
                walked.problem = got
                return walked
            output = replay_output(got)
            in_turn += 1
            step = Step(index, turn, request, output, cost_usd=self._cost(got, output))
            walked.interactions.append(got)
            walked.recorded = walked.recorded or self._live
            if plan is not None and output.tool_calls and output.error is None:  # the loop goes on
                if in_turn >= plan.max_steps:
                    walked.steps.append(step)
                    walked.stopped = _stopped(plan.max_steps, index, turn, output)
                    return walked
                results = tuple(plan.tools.answer(call) for call in output.tool_calls)
                walked.steps.append(replace(step, tool_results=results))
                failed = next((r for r in results if r.error), None)
                if failed is not None:
                    walked.problem = Problem("error", index, f"step {index + 1}: tool {failed.name!r}: "
                                             f"{self.secrets.text(failed.error or '')}; nothing more was sent")
                    return walked
                added = [_assistant(output), *(_tool_message(r) for r in results)]
            elif turns and output.error is None:  # answered: the next user turn
                walked.steps.append(step)
                added = [_assistant(output), turns.pop(0)]
                turn, in_turn = turn + 1, 0
            else:  # the final answer
                walked.steps.append(step)
                return walked
            # The previous response saw its request's messages and its own answer (Conversation.sent).
            sent = (plan.own if plan else 0) + len(history) + 1
            history += added
            index += 1
            try:
                renderer = renderer or Renderer(self.case.suite_path, self.case.prompt_roots)
                request = build_request(self.case, renderer, base_url_override=self.base_url,
                                        conversation=Conversation(tuple(history), output.response_id, sent))
            except HarnessError as exc:
                walked.problem = Problem("error", index, f"step {index + 1}: {exc}")
                return walked

    def _interaction(self, request: Request, index: int) -> Interaction | Problem:
        """The step's recorded exchange, or the live one; a Problem when it has neither."""
        if not self._live and not self.always:
            hit = self.hit if index == 0 and self.hit is not None else cassettes.find(self.stored or [], request.key)
            if hit is not None:
                return hit
            recorded = cassettes.steps_of(self.stored)
            if self.stored is None:
                problem = Problem("missing", index, "no cassette")
            elif index >= len(recorded):
                problem = Problem("missing", index, f"the cassette holds {len(recorded)} step(s) of this "
                                  f"case; step {index + 1} was never recorded")
            else:
                what = "the request changed since it was recorded" if index == 0 and len(recorded) == 1 \
                    else f"the request of step {index + 1} changed since it was recorded"
                old = recorded[index]
                detail = request_diff(canonical_form(old.method, old.path, old.query, old.body),
                                      request.canonical())
                problem = Problem("stale", index, what, detail=detail)
            if self.send is None or (problem.status == "stale" and not self.stale_too):
                return problem
        self._live = True
        return self._send(request, index)

    def _send(self, request: Request, index: int) -> Interaction | Problem:
        assert self.send is not None
        at = f"step {index + 1}: " if index else ""
        if index:
            too_big = fit_error(request.body, model=self.case.model)
            if too_big is not None:
                return Problem("error", index, f"{at}{too_big}; nothing more was sent")
        reserved = 0.0
        if self.budget is not None:
            try:
                reserved = reserve_or_stop(self.budget, request, self.case.model, self.prices,
                                           f"step {index + 1} not sent" if index else "not sent")
            except BudgetStop as stop:
                return Problem("skipped", index, stop.message, budget=True)
        try:
            live = self.send(request)
        except Exception as exc:  # noqa: BLE001 - one case's failure must not stop the others
            if self.budget is not None:
                self.budget.settle(reserved, 0.0)
            text = str(exc) if isinstance(exc, HarnessError) else f"{type(exc).__name__}: {exc}"
            return Problem("error", index, at + self.secrets.text(text), failed_call=True)
        if self.budget is not None:
            usage = live.output.usage
            self.budget.settle(reserved, self.prices.cost(self.case.model, usage) if usage else None)
        if live.interrupted:
            return Problem("skipped", index, NOT_STARTED)
        if live.interaction is None:
            error = self.secrets.text(live.output.error or "")
            return Problem("error", index, at + (error or "request failed"),
                           output=replace(live.output, error=error), failed_call=True)
        return cassettes.scrub_interaction(live.interaction, self.secrets)

    def _cost(self, interaction: Interaction, output: Output) -> float | None:
        if output.usage is None:
            return None
        return self.prices.cost(self.case.model, output.usage, batch=bool(interaction.extra.get("batch")))


def _assistant(output: Output) -> dict[str, Any]:
    """The answer as the next request repeats it (the chat history shape of episode.Conversation)."""
    message: dict[str, Any] = {"role": "assistant", "content": output.content}
    if output.tool_calls:
        message["tool_calls"] = [{"id": c.id, "type": "function",
                                  "function": {"name": c.name, "arguments": c.raw_arguments}}
                                 for c in output.tool_calls]
    return message


def _tool_message(result: ToolResult) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": result.call_id, "content": result.content}


def _stopped(max_steps: int, index: int, turn: int, output: Output) -> str:
    calls = ", ".join(f"{c.name}({c.raw_arguments[:80]})" for c in output.tool_calls)
    return (f"max_steps ({max_steps}) reached at step {index + 1} (turn {turn + 1}): the model still "
            f"called {calls}; nothing more was sent")
