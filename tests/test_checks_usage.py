"""Budget checks: tokens, cost, latency, ttft."""

from __future__ import annotations

import pytest

from harness.errors import UserError
from harness.pricing import PriceTable

from checkutil import bind_check, fails, make_body, make_ctx, passes, run_check

USAGE = {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200,
         "prompt_tokens_details": {"cached_tokens": 400},
         "completion_tokens_details": {"reasoning_tokens": 50}}


ok, bad = passes, fails


def err(spec, c):
    v = run_check(spec, c)
    assert v.error and not v.passed, v.reason
    return v


# ---------------------------------------------------------------- tokens

def test_tokens():
    c = make_ctx("x", usage=USAGE)
    ok({"tokens": {"prompt": {"max": 1000}, "completion": {"min": 100, "max": 300},
                   "total": {"max": 1500}}}, c)
    ok({"tokens": {"cached": {"min": 400}, "reasoning": {"max": 50}}}, c)
    ok({"tokens": {"completion": 200}}, c)  # a bare number is a maximum
    v = bad({"tokens": {"completion": {"max": 100}}}, c)
    assert v.reason == "completion tokens 200 > max 100"
    v = bad({"tokens": {"completion": {"min": 500}, "prompt": {"max": 10}}}, c)
    assert "completion tokens 200 < min 500" in v.reason and "prompt tokens 1000 > max 10" in v.reason
    assert v.details["total"] == 1200


def test_tokens_without_usage_is_an_error():
    v = err({"tokens": {"total": {"max": 10}}}, make_ctx("x"))
    assert "no usage" in v.reason


@pytest.mark.parametrize("arg", [
    {}, {"output": {"max": 1}}, {"total": {"maximum": 1}}, {"total": {"max": -1}},
    {"total": {"min": 5, "max": 1}}, {"total": "10"}, 10,
])
def test_tokens_bad_arguments(arg):
    with pytest.raises(UserError):
        bind_check({"tokens": arg})


# ---------------------------------------------------------------- cost

def test_cost_default_table():
    # gpt-5.1: 600 fresh * 2.50 + 400 cached * 1.25 + 200 out * 10.00 per 1M = 0.004
    c = make_ctx("x", usage=USAGE, model="gpt-5.1-2025-11-13")
    v = ok({"cost": {"max_usd": 0.004}}, c)
    assert v.reason == "cost $0.004000 <= $0.004000"
    v = bad({"cost": 0.0039}, c)
    assert v.reason.startswith("cost $0.004000 > max $0.003900")
    assert v.details["usd"] == pytest.approx(0.004)


def test_cost_batch_and_table_from_services():
    # batch: 600 * 1.25 + 400 * min(1.25, 1.25) + 200 * 5.00 = 0.00225
    c = make_ctx("x", usage=USAGE, model="gpt-5.1", services={"batch": True})
    v = ok({"cost": 0.00225}, c)
    assert "(batch prices)" in v.reason
    table = PriceTable.from_sources(None, None, {"my-model": {"input": 1.0, "output": 2.0}})
    c = make_ctx("x", usage=USAGE, model="my-model", body=make_body(model="my-model"),
                 services={"pricing": table})
    v = ok({"cost": {"max_usd": 0.0014}}, c)  # 1000 * 1 + 200 * 2 = 1400 / 1M
    assert "$0.001400" in v.reason


def test_cost_falls_back_to_the_requested_model():
    # the answer names a snapshot the table cannot resolve: the request's model prices it
    c = make_ctx("x", usage=USAGE, model="gpt-5.1-preview-weird", body=make_body(model="gpt-5.1"))
    ok({"cost": 1}, c)


def test_cost_unknown_is_an_error_never_zero():
    c = make_ctx("x", usage=USAGE, model="mystery-1", body=make_body(model="mystery-1"))
    v = err({"cost": 1}, c)
    assert "no price for model 'mystery-1'" in v.reason
    v = err({"cost": 1}, make_ctx("x", model="gpt-5.1"))
    assert "no usage" in v.reason
    # gpt-4o-mini is not gpt-4o: no silent prefix match to another model's price
    c = make_ctx("x", usage=USAGE, model="gpt-4o-mini", body=make_body(model="gpt-4o-mini"))
    err({"cost": 1}, c)


@pytest.mark.parametrize("arg", [{"max": 1}, {"max_usd": -1}, "0.01", True, {"max_usd": 1, "x": 2}])
def test_cost_bad_arguments(arg):
    with pytest.raises(UserError):
        bind_check({"cost": arg})


# ---------------------------------------------------------------- latency / ttft

def test_latency_and_ttft():
    c = make_ctx("x", latency_ms=1500.4, ttft_ms=120.0)
    v = ok({"latency": {"max_ms": 2000}}, c)
    assert v.reason == "latency 1500 ms <= 2000 ms"
    v = bad({"latency": 1000}, c)
    assert v.reason == "latency 1500 ms > max 1000 ms"
    ok({"ttft": {"max_ms": 200}}, c)
    v = bad({"ttft": {"max_ms": 100}}, c)
    assert v.reason == "time to first token 120 ms > max 100 ms"


def test_timings_not_recorded_are_errors():
    v = err({"latency": 2000}, make_ctx("x"))
    assert "not recorded" in v.reason
    err({"ttft": {"max_ms": 1}}, make_ctx("x", latency_ms=5.0))


@pytest.mark.parametrize("spec", [{"latency": {"max": 1}}, {"latency": -5}, {"ttft": "fast"},
                                  {"ttft": {"max_ms": None}}])
def test_timing_bad_arguments(spec):
    with pytest.raises(UserError):
        bind_check(spec)
