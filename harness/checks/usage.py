"""Budget checks: tokens, cost and latency of one answer, and the number of model calls.

On a case of several model calls the answer the checks see carries usage and latency summed over
the steps they look at (the runner sums them over the episode; targets.py over a turn), so these
budgets count a whole tool loop or conversation unless aimed at one step.

A budget that cannot be measured is an error verdict, not a pass: an answer without usage (a
streamed answer recorded without ``include_usage``), a model without a price, or a replay without
timings must never make a budget look kept.
"""

from __future__ import annotations

from typing import Any

from ..pricing import PriceTable
from .args import bounds, named_bounds, non_negative
from .registry import CheckContext, CheckError, Result, check

_TOKEN_KINDS = {"prompt": "prompt_tokens", "completion": "completion_tokens", "total": "total_tokens",
                "cached": "cached_tokens", "reasoning": "reasoning_tokens"}


def _tokens_arg(arg: Any) -> dict[str, tuple[float | None, float | None]]:
    return named_bounds(arg, _TOKEN_KINDS, what="token kind", bare_max=True)


@check("tokens", validate=_tokens_arg)
def tokens(arg: dict[str, tuple[float | None, float | None]], ctx: CheckContext) -> Result:
    """Token counts reported by the API (prompt, completion, total, cached, reasoning) are in bounds."""
    usage = ctx.output.usage
    if usage is None:
        raise CheckError("the answer carries no usage (streamed without stream_options.include_usage?)")
    problems, ok = [], []
    for kind, (low, high) in arg.items():
        n = getattr(usage, _TOKEN_KINDS[kind])
        if low is not None and n < low:
            problems.append(f"{kind} tokens {n} < min {low:g}")
        elif high is not None and n > high:
            problems.append(f"{kind} tokens {n} > max {high:g}")
        else:
            ok.append(f"{kind} tokens {n}")
    details = {k: getattr(usage, v) for k, v in _TOKEN_KINDS.items()}
    if problems:
        return Result(False, "; ".join(problems), details=details)
    return Result(True, "; ".join(ok) + " within bounds", details=details)


def _limit(arg: Any, key: str, check_name: str) -> float:
    if isinstance(arg, dict):
        if set(arg) != {key}:
            raise ValueError(f"{check_name} expects {{{key}: N}} or a bare number")
        arg = arg[key]
    return non_negative(arg, key)


def _model_of(ctx: CheckContext) -> str | None:
    return ctx.output.model or ctx.request.body.get("model") or ctx.case.model


@check("cost", validate=lambda arg: _limit(arg, "max_usd", "cost"))
def cost(arg: float, ctx: CheckContext) -> Result:
    """The answer cost at most ``max_usd`` at the run's price table (batch prices in batch runs)."""
    usage = ctx.output.usage
    if usage is None:
        raise CheckError("cost unknown: the answer carries no usage")
    table = ctx.services.get("pricing")
    if not isinstance(table, PriceTable):
        table = PriceTable()
    batch = bool(ctx.services.get("batch", False))
    # The answer's model may be a dated snapshot of the requested one, or a name the table lacks.
    names = [n for n in (ctx.output.model, ctx.request.body.get("model"), ctx.case.model) if n]
    model = next((n for n in names if table.price(n) is not None), None)
    if model is None:
        raise CheckError(f"cost unknown: no price for model {_model_of(ctx)!r} "
                         "(add it under pricing: in the suite or the config file)")
    usd = table.cost(model, usage, batch=batch)
    if usd is None:
        raise CheckError(f"cost unknown for model {model!r}")
    how = " (batch prices)" if batch else ""
    details = {"usd": usd, "model": model, "batch": batch}
    if usd <= arg:
        return Result(True, f"cost ${usd:.6f} <= ${arg:.6f}{how}", details=details)
    return Result(False, f"cost ${usd:.6f} > max ${arg:.6f}{how} ({usage.prompt_tokens} prompt, "
                         f"{usage.cached_tokens} cached, {usage.completion_tokens} completion tokens "
                         f"of {model})", details=details)


def _timing(value: float | None, limit: float, what: str) -> Result:
    if value is None:
        raise CheckError(f"{what} was not recorded for this answer")
    if value <= limit:
        return Result(True, f"{what} {value:.0f} ms <= {limit:g} ms", details={"ms": value})
    return Result(False, f"{what} {value:.0f} ms > max {limit:g} ms", details={"ms": value})


@check("latency", validate=lambda arg: _limit(arg, "max_ms", "latency"))
def latency(arg: float, ctx: CheckContext) -> Result:
    """The whole answer took at most ``max_ms`` milliseconds."""
    return _timing(ctx.output.latency_ms, arg, "latency")


@check("ttft", validate=lambda arg: _limit(arg, "max_ms", "ttft"))
def ttft(arg: float, ctx: CheckContext) -> Result:
    """The first token (of a streamed answer) came within ``max_ms`` milliseconds."""
    return _timing(ctx.output.ttft_ms, arg, "time to first token")


def _steps_arg(arg: Any) -> tuple[float | None, float | None]:
    if isinstance(arg, int) and not isinstance(arg, bool):
        if arg < 1:
            raise ValueError(f"a case makes at least one model call, got steps: {arg}")
        return float(arg), float(arg)
    if not isinstance(arg, dict) or not arg or not set(arg) <= {"min", "max"}:
        raise ValueError(f"expected a whole number of model calls, or {{min: N, max: M}}, got {arg!r}")
    return bounds(arg, "steps", whole=True)


@check("steps", validate=_steps_arg)
def steps(arg: tuple[float | None, float | None], ctx: CheckContext) -> Result:
    """The number of model calls (steps of a tool loop, turns of a conversation) is exactly N, or
    within ``{min, max}``; a case of one request makes one. A loop that hits ``max_steps`` says so."""
    count = len(ctx.steps) or 1
    low, high = arg
    calls = f"{count} model call{'' if count == 1 else 's'}"
    episode = ctx.episode
    why = f" (the loop stopped: {episode.stopped})" if episode is not None and episode.stopped else ""
    details = {"steps": count}
    if low is not None and low == high:
        if count == low:
            return Result(True, calls, details=details)
        return Result(False, f"expected exactly {low:g} model call(s), got {count}{why}", details=details)
    if low is not None and count < low:
        return Result(False, f"{calls} < min {low:g}{why}", details=details)
    if high is not None and count > high:
        return Result(False, f"{calls} > max {high:g}{why}", details=details)
    shown = ", ".join(f"{name} {value:g}" for name, value in (("min", low), ("max", high)) if value is not None)
    return Result(True, f"{calls} ({shown})", details=details)
