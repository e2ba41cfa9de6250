"""The JSON report: one versioned file per run (``harness.run/1``) or per diff (``harness.diff/1``).

It is the only report that is also read back (``harness diff OLD.json NEW.json``, and the base
side of ``harness diff --base``), so it keeps each answer in full, and reading it rebuilds the same
records the run produced. The format is documented in docs/report-json.md; a change that breaks a
reader bumps the number after the slash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..diff import change_from_json, change_to_json
from ..episode import ToolResult
from ..errors import UserError
from ..judge_spend import JudgeSpend
from ..orphans import Orphan
from ..output import Output, ToolCall, Usage
from ..shard import ShardError, ShardInfo
from ..stats import Rate
from ..trajectory import StepRecord
from .diff_samples import from_baselines
from .json_text import indented
from .rate_change import ADJUSTMENT, RateDiff
from .records import (
    CaseRecord,
    CheckRecord,
    Comparison,
    Gate,
    RunRecord,
    SuiteRecord,
    Totals,
)
from .sampled import (
    CaseSamples,
    Estimates,
    SuiteSamples,
    outcomes,
    sampled_cases,
    suite_rate,
    suite_samples,
)

RUN_SCHEMA = "harness.run/1"
DIFF_SCHEMA = "harness.diff/1"


def _usage(usage: Usage | None) -> dict[str, int] | None:
    if usage is None:
        return None
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens, "cached_tokens": usage.cached_tokens,
            "reasoning_tokens": usage.reasoning_tokens}


def _answer(output: Output) -> dict[str, Any]:
    return {"content": output.content,
            "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.raw_arguments} for c in output.tool_calls],
            "finish_reason": output.finish_reason, "model": output.model, "http_status": output.status,
            "error": output.error, "ttft_ms": output.ttft_ms, "streamed": output.streamed}


def _step(s: StepRecord) -> dict[str, Any]:
    """One step of a trajectory; ``index`` and ``turn`` 1-based, as users count them."""
    return {"index": s.index + 1, "turn": s.turn + 1, "user": s.user, "answer": _answer(s.output),
            "tool_results": [{"call_id": r.call_id, "name": r.name, "arguments": r.arguments, "content": r.content,
                              "error": r.error} for r in s.tool_results],
            "usage": _usage(s.output.usage), "cost_usd": s.cost_usd, "latency_ms": s.output.latency_ms}


def _totals(t: Totals) -> dict[str, Any]:
    return {"cases": t.cases, "counts": t.counts,
            "pass_rate": None if t.pass_rate is None else round(t.pass_rate, 6),
            "cost_usd": round(t.cost_usd, 8), "cost_unknown": t.cost_unknown, "tokens": t.tokens,
            "judge": {"calls": t.judge_calls, "cost_usd": round(t.judge_cost_usd, 8), "tokens": t.judge_tokens},
            "budget_skipped": t.budget_skipped}


def _judge(spend: JudgeSpend | None) -> dict[str, Any] | None:
    if spend is None:
        return None
    return {"calls": spend.calls, "usage": _usage(spend.usage), "cost_usd": spend.cost_usd}


def _check(v: CheckRecord, ifeval: bool) -> dict[str, Any]:
    doc = {"name": v.name, "passed": v.passed, "reason": v.reason, "score": v.score, "weight": v.weight,
           "error": v.error}
    if ifeval and v.ifeval is not None:  # a shard's IFEval check: harness merge rebuilds the IFEval table
        doc["ifeval"] = {"strict": v.ifeval[0], "loose": v.ifeval[1]}
    return doc


def case_document(c: CaseRecord, *, ifeval: bool = False) -> dict[str, Any]:
    """A case; ``ifeval`` adds an IFEval check's strict and loose judgements (only a shard's report
    carries them, so every other report stays byte for byte what it was)."""
    out = c.answer
    doc: dict[str, Any] = {
        "suite": c.suite, "suite_path": c.suite_path, "id": c.id, "name": c.name, "node_id": c.node_id,
        "sample": c.sample, "model": c.model, "status": c.status, "description": c.description,
        "message": c.message, "detail": c.detail, "recorded": c.recorded, "new": c.new,
        "rerecord": c.rerecord, "budget_skipped": c.budget_skipped,
        "checks": [_check(v, ifeval) for v in c.checks],
        "usage": _usage(out.usage) if out else None,
        "cost_usd": c.total_cost_usd if c.answer is not None or c.judge else c.cost_usd,
        "model_cost_usd": c.cost_usd,
        "judge": _judge(c.judge),
        "latency_ms": out.latency_ms if out else None,
        "answer": _answer(out) if out else None,
        "baseline": None,
        "change": change_to_json(c.change) if c.change else None,
    }
    if c.steps:  # only a multi-step case has a trajectory: other cases' documents stay as they were
        doc["steps"] = [_step(s) for s in c.steps]
        doc["stopped"] = c.stopped
    if c.api != "chat":  # the default is left unsaid: a chat run's report is what it always was
        doc["api"] = c.api
    if c.baseline is not None or c.baseline_status is not None:
        base = c.baseline
        doc["baseline"] = {"status": c.baseline_status, "cost_usd": c.baseline_cost_usd,
                           "usage": _usage(base.usage) if base else None,
                           "latency_ms": base.latency_ms if base else None,
                           "answer": _answer(base) if base else None}
        if c.baseline_steps:
            doc["baseline"]["steps"] = [_step(s) for s in c.baseline_steps]
    return doc


def _estimates(values: Estimates) -> dict[str, float | None]:
    return {str(k): None if v is None else round(v, 6) for k, v in values}


def samples_document(s: CaseSamples) -> dict[str, Any]:
    """A sampled case's statistics, carried by each of its samples' documents."""
    first = s.records[0]
    gate = None
    if first.min_pass_rate is not None or first.min_pass_hat_k is not None:
        hat = first.min_pass_hat_k
        gate = {"min_pass_rate": first.min_pass_rate,
                "min_pass_hat_k": {"k": hat[0], "min": hat[1]} if hat else None,
                "met": all(g.met for g in s.gates),
                "gates": [{"name": g.name, "met": g.met, "text": g.text} for g in s.gates]}
    r = s.rate
    return {"status": s.status, "passed": r.passed, "n": r.n, "rate": round(r.rate, 6), "ci_low": round(r.low, 6),
            "ci_high": round(r.high, 6), "confidence": r.confidence, "pass_at_k": _estimates(s.pass_at_k),
            "pass_hat_k": _estimates(s.pass_hat_k), "flaky": s.flaky, "gate": gate}


def _suite_samples(s: SuiteSamples) -> dict[str, Any]:
    return {"cases": len(s.cases), "samples": sum(len(c.records) for c in s.cases),
            "pass_rate": None if s.rate is None else round(s.rate.rate, 6),
            "pass_at_k": _estimates(s.pass_at_k), "pass_hat_k": _estimates(s.pass_hat_k),
            "flaky": [c.key for c in s.flaky]}


def run_document(run: RunRecord) -> dict[str, Any]:
    summary = _totals(run.totals)
    summary["gates"] = [{"name": g.name, "met": g.met, "text": g.text} for g in run.gates]
    summary["changed"] = sum(c.changed for c in run.cases)
    sampled = sampled_cases(run)
    # A case with several samples regresses by its rates against its baselines, never sample by sample.
    folded = {node for node, group in sampled.items() if len(group.records) > 1}
    rates = from_baselines(run.cases) if folded else None
    summary["regressed"] = (sum(c.regressed for c in run.cases if c.node_id not in folded)
                            + (len(rates.regressed) if rates else 0))
    per_suite = {s.path: _suite_samples(s) for s in suite_samples(run, sampled)}
    cases = [case_document(c, ifeval=run.shard is not None) for c in run.cases]
    if sampled:  # statistics only where a case has samples: other runs' documents stay as they were
        statuses: dict[str, int] = {}
        for group in sampled.values():
            statuses[group.status] = statuses.get(group.status, 0) + 1
        mean = suite_rate((c.node_id, c.status) for c in run.cases)
        pass_rate = None if mean is None else round(mean.rate, 6)
        summary["samples"] = {"cases": len(sampled), "samples": sum(len(g.records) for g in sampled.values()),
                              "pass_rate": pass_rate, "statuses": statuses, "flaky": [g.key for g in sampled.values() if g.flaky]}
        if rates is not None:
            summary["samples"]["against_baseline"] = rate_diff_document(rates)
        units = outcomes(run, sampled)
        counts = {s: 0 for s in ("passed", "failed", "error", "stale", "missing", "skipped")}
        for unit in units:
            counts[unit.status] = counts.get(unit.status, 0) + 1
        summary["by_case"] = {"cases": len(units), "counts": counts, "pass_rate": pass_rate}
        for doc, c in zip(cases, run.cases, strict=True):
            if c.node_id in sampled:
                doc["samples"] = samples_document(sampled[c.node_id])
    suites = []
    for s in run.suites:
        entry: dict[str, Any] = {"name": s.name, "path": s.path, "models": list(s.models), "options": s.options}
        if s.path in per_suite:
            entry["samples"] = per_suite[s.path]
        suites.append(entry)
    doc = {
        "schema": RUN_SCHEMA, "harness_version": run.harness_version, "created": run.created,
        "label": run.label, "record_mode": run.record_mode, "elapsed_s": run.elapsed_s,
        "suites": suites,
        "summary": summary,
        "cases": cases,
    }
    if run.orphans:  # only when there are any: other runs' documents stay as they were
        doc["orphans"] = [{"path": o.shown, "suites": list(o.suites)} for o in run.orphans]
    if run.shard is not None:  # only a shard's report: what harness merge needs to join it
        info = run.shard
        doc["shard"] = {"index": info.index, "count": info.count,
                        "suites": [{"path": path, "fingerprint": fp} for path, fp in info.suites],
                        "positions": list(info.positions), "orphans_checked": info.orphans_checked,
                        "selection": info.selection, "stopped": info.stopped,
                        "files": [{"path": path, "sha256": digest} for path, digest in info.files]}
        if info.no_cases:  # only when the run selected nothing: harness merge then exits as it did
            doc["shard"]["no_cases"] = info.no_cases
        if info.errors:  # only when a user error stopped the shard: harness merge then says what one job says
            doc["shard"]["stage"] = info.stage
            doc["shard"]["errors"] = [{"message": e.message, "exit_code": e.exit_code, "position": e.position}
                                      for e in info.errors]
    return doc


def diff_document(cmp: Comparison) -> dict[str, Any]:
    base, head = cmp.base_totals, cmp.head_totals
    return {
        "schema": DIFF_SCHEMA, "base": cmp.base_label, "head": cmp.head_label,
        "summary": {
            "base": _totals(base), "head": _totals(head),
            "delta": {"cost_usd": round(head.cost_usd - base.cost_usd, 8), "tokens": head.tokens - base.tokens},
            "regressed": cmp.regressed_keys, "fixed": cmp.fixed_keys,
            "changed": [c.key for c in cmp.changed], "added": [c.key for c in cmp.added],
            "removed": [c.key for c in cmp.removed],
            "gates": [{"name": g.name, "met": g.met, "text": g.text} for g in cmp.head.gates],
        },
        "notes": list(cmp.notes),
        "run": run_document(cmp.head),
        "removed": [case_document(c) for c in cmp.removed],
    } | ({"samples": rate_diff_document(cmp.samples)} if cmp.samples is not None else {})


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _rate(rate: Rate) -> dict[str, Any]:
    return {"passed": rate.passed, "n": rate.n, "rate": round(rate.rate, 6), "low": round(rate.low, 6),
            "high": round(rate.high, 6)}


def rate_diff_document(diff: RateDiff) -> dict[str, Any]:
    """The cases a diff compared as pass rates, their suites and the flaky ones (docs/report-json.md)."""
    return {
        "test": "fisher_exact_one_sided", "adjustment": ADJUSTMENT, "alpha": diff.alpha,
        "confidence": diff.cases[0].base.confidence if diff.cases else None,
        "cases": [{"node_id": c.node_id, "suite_path": c.suite_path, "verdict": c.verdict, "flaky": c.flaky,
                   "base": _rate(c.base), "head": _rate(c.head), "p_regressed": c.change.p_regressed,
                   "p_improved": c.change.p_improved, "p_adjusted": c.p} for c in diff.cases],
        "suites": [{"path": s.path, "name": s.name, "test": "cochran_mantel_haenszel", "cases": s.change.cases,
                    "base_mean": _round(s.change.base_mean), "head_mean": _round(s.change.head_mean),
                    "p_regressed": s.change.p_regressed, "p_improved": s.change.p_improved,
                    "p_adjusted": s.p, "verdict": s.verdict} for s in diff.suites],
        "flaky": [c.node_id for c in diff.flaky],
    }


def render(run: RunRecord, comparison: Comparison | None = None) -> str:
    doc = diff_document(comparison) if comparison is not None else run_document(run)
    return indented(doc) + "\n"  # json.dumps(doc, indent=2, ensure_ascii=False, default=str), faster


# ---------------------------------------------------------------- reading back


def _usage_from(data: Mapping[str, Any] | None) -> Usage | None:
    return Usage(**{k: int(v) for k, v in data.items() if k in Usage.__dataclass_fields__}) if data else None


def _output_from(answer: Mapping[str, Any] | None, usage: Mapping[str, Any] | None,
                 latency_ms: float | None) -> Output | None:
    if answer is None:
        return None
    calls = tuple(ToolCall(name=str(c.get("name", "")), raw_arguments=str(c.get("arguments") or ""),
                           id=str(c.get("id", ""))) for c in answer.get("tool_calls") or [])
    return Output(content=answer.get("content"), tool_calls=calls, finish_reason=answer.get("finish_reason"),
                  usage=_usage_from(usage), model=answer.get("model"), status=int(answer.get("http_status") or 200),
                  error=answer.get("error"), latency_ms=latency_ms, ttft_ms=answer.get("ttft_ms"),
                  streamed=bool(answer.get("streamed")))


def _steps_from(docs: Any) -> tuple[StepRecord, ...]:
    out = []
    for d in docs or ():
        answer = _output_from(d.get("answer"), d.get("usage"), d.get("latency_ms")) or Output(content=None)
        results = tuple(ToolResult(str(r.get("call_id", "")), str(r.get("name", "")), r.get("arguments"),
                                   str(r.get("content") or ""), r.get("error")) for r in d.get("tool_results") or [])
        out.append(StepRecord(int(d["index"]) - 1, int(d.get("turn") or 1) - 1, answer, results, d.get("cost_usd"),
                              d.get("user")))
    return tuple(out)


def _judge_from(data: Mapping[str, Any] | None) -> JudgeSpend | None:
    if not data:
        return None
    return JudgeSpend(int(data.get("calls") or 0), _usage_from(data.get("usage")) or Usage(), data.get("cost_usd"))


def case_from(doc: Mapping[str, Any]) -> CaseRecord:
    base = doc.get("baseline") or {}
    gate = (doc.get("samples") or {}).get("gate") or {}
    hat = gate.get("min_pass_hat_k")
    return CaseRecord(
        suite=doc["suite"], suite_path=doc["suite_path"], id=doc["id"], model=doc.get("model", ""),
        api=str(doc.get("api") or "chat"), status=doc["status"], sample=int(doc.get("sample") or 0), description=doc.get("description", ""),
        checks=tuple(CheckRecord(v["name"], bool(v["passed"]), v.get("reason", ""), v.get("score"),
                                 float(v.get("weight", 1.0)), bool(v.get("error")),
                                 (bool(v["ifeval"]["strict"]), bool(v["ifeval"]["loose"])) if v.get("ifeval") else None)
                     for v in doc.get("checks") or []),
        answer=_output_from(doc.get("answer"), doc.get("usage"), doc.get("latency_ms")),
        cost_usd=doc["model_cost_usd"] if "model_cost_usd" in doc else doc.get("cost_usd"), message=doc.get("message", ""), detail=doc.get("detail", ""),
        recorded=bool(doc.get("recorded")), rerecord=doc.get("rerecord", ""),
        baseline=_output_from(base.get("answer"), base.get("usage"), base.get("latency_ms")),
        baseline_status=base.get("status"), baseline_cost_usd=base.get("cost_usd"),
        change=change_from_json(doc["change"]) if doc.get("change") else None, new=bool(doc.get("new")),
        judge=_judge_from(doc.get("judge")), budget_skipped=bool(doc.get("budget_skipped")),
        min_pass_rate=gate.get("min_pass_rate"), min_pass_hat_k=(int(hat["k"]), float(hat["min"])) if hat else None,
        steps=_steps_from(doc.get("steps")), stopped=doc.get("stopped"), baseline_steps=_steps_from(base.get("steps")))


def _shard_from(data: Mapping[str, Any] | None) -> ShardInfo | None:
    if data is None:
        return None
    return ShardInfo(int(data["index"]), int(data["count"]),
                     tuple((str(s["path"]), str(s["fingerprint"])) for s in data.get("suites") or []),
                     tuple(int(p) for p in data.get("positions") or []), int(data.get("orphans_checked") or 0),
                     str(data.get("selection") or ""), bool(data.get("stopped")),
                     tuple((str(f["path"]), str(f["sha256"])) for f in data.get("files") or []),
                     str(data.get("no_cases") or ""), str(data.get("stage") or ""),
                     tuple(ShardError(str(e["message"]), int(e["exit_code"]), int(e.get("position") or 0))
                           for e in data.get("errors") or []))


def _orphans_from(docs: Any) -> tuple[Orphan, ...]:
    """Orphans as the report shows them (relative to the folder it was written in)."""
    return tuple(Orphan(Path.cwd().resolve() / str(o["path"]), tuple(str(s) for s in o.get("suites") or []))
                 for o in docs or [])


def run_from(doc: Mapping[str, Any], *, label: str = "") -> RunRecord:
    """A RunRecord from a ``harness.run/1`` document, or from the head run of a ``harness.diff/1``."""
    schema = doc.get("schema") if isinstance(doc, Mapping) else None
    if schema == DIFF_SCHEMA:
        return run_from(doc["run"], label=label)
    if schema != RUN_SCHEMA:
        raise ValueError(f"not a harness run report (schema {schema!r}, expected {RUN_SCHEMA!r})")
    gates = tuple(Gate(g["name"], bool(g["met"]), g.get("text", "")) for g in doc["summary"].get("gates") or [])
    return RunRecord(
        cases=tuple(case_from(c) for c in doc["cases"]),
        suites=tuple(SuiteRecord(s["name"], s["path"], tuple(s.get("models") or ()), dict(s.get("options") or {}))
                     for s in doc.get("suites") or []),
        label=label or doc.get("label", ""), created=doc.get("created", ""),
        harness_version=doc.get("harness_version", ""), record_mode=doc.get("record_mode", "none"),
        elapsed_s=doc.get("elapsed_s"), gates=gates, orphans=_orphans_from(doc.get("orphans")),
        shard=_shard_from(doc.get("shard")))


def load(path: str | Path, *, label: str | None = None) -> RunRecord:
    """Read a saved report; anything unreadable is a UserError naming the file."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return run_from(doc, label=path.name if label is None else label)
    except FileNotFoundError:
        raise UserError("no such report file", file=path) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UserError(f"unreadable JSON report ({type(exc).__name__}: {exc})", file=path) from None
