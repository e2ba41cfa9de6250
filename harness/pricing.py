"""What an answer cost: a price table per model, in USD per 1M tokens.

Prices change and differ per contract, so the shipped table is only a default: a YAML config file
and a suite's ``pricing:`` mapping override it, model by model and field by field. A model the
table does not know has an unknown cost (None), never a cost of 0: a budget check must not pass
because a price is missing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from .errors import UserError
from .output import Usage
from .yamlio import line_of, load_yaml


def usd(value: float, *, exact: bool = False) -> str:
    """Money as text that does not lie. A spend is shown with three significant digits below a
    cent (a prompt often costs $0.000312) and four decimals above; ``exact`` prints a limit the
    user gave as written (``--max-cost 0.025`` is $0.025, never $0.03), with at least cents."""
    if exact:
        text = format(Decimal(repr(float(value))), "f")
        whole, _, frac = text.partition(".")
        frac = frac.rstrip("0")
        return f"${int(whole):,}.{frac.ljust(2, '0')}" if not whole.startswith("-") \
            else f"-{usd(-value, exact=True)}"
    size = abs(value)
    if size == 0:
        return "$0"
    if size < 0.01:
        return f"${value:.{min(15, 2 - math.floor(math.log10(size)))}f}"
    return f"${value:,.4f}" if size < 100 else f"${value:,.2f}"


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens. A missing cached or batch price means "no discount known": the token is
    billed at the normal price, so an estimate errs high rather than low."""

    input: float
    output: float
    cached_input: float | None = None
    batch_input: float | None = None
    batch_output: float | None = None


#: From the GPT-5.1 guide; batch prices only where the guide gives them.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-5.1": Price(2.50, 10.00, cached_input=1.25, batch_input=1.25, batch_output=5.00),
    "gpt-4o": Price(2.50, 10.00, cached_input=1.25, batch_input=1.25, batch_output=5.00),
    "claude-opus-4": Price(15.00, 75.00),
    "claude-sonnet-4": Price(3.00, 15.00),
    "gemini-2.5-pro": Price(1.25, 10.00),
}

# A snapshot suffix: -2024-08-06, -20250514, -0613, -05-06, -preview[-...], -latest, -exp[-...].
_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|\d{2}-\d{2}|latest|(preview|exp)(-[\w.-]*)?)$")


def base_model(name: str, known: Iterable[str]) -> str | None:
    """The known model a (possibly dated) name stands for, by longest prefix.

    Only a snapshot suffix may follow the prefix: ``gpt-4o-2024-08-06`` is ``gpt-4o``, but
    ``gpt-4o-mini`` is NOT ``gpt-4o`` (another model at another price), so it stays unknown unless
    the table lists it.
    """
    name = name.strip().lower()
    keys = {k.lower(): k for k in known}
    if name in keys:
        return keys[name]
    best = None
    for low, key in keys.items():
        if name.startswith(low) and _SNAPSHOT.fullmatch(name[len(low):]) \
                and (best is None or len(low) > len(best[0])):
            best = (low, key)
    return best[1] if best else None


_FIELDS = tuple(f.name for f in fields(Price))


class PriceTable:
    """Model -> Price, with dated names resolved to their base."""

    def __init__(self, prices: Mapping[str, Price] | None = None) -> None:
        self.prices: dict[str, Price] = dict(DEFAULT_PRICES if prices is None else prices)
        # Each answer of a run asks for its model's price, and resolving a dated name scans the
        # whole table: remember the answer per name. A table is never changed once built (merged()
        # makes a new one), so a remembered price cannot go out of date.
        self._by_name: dict[str, Price | None] = {}

    @classmethod
    def from_sources(cls, defaults: Mapping[str, Price] | PriceTable | None = None,
                     config_file: Path | None = None, suite_overrides: Mapping[str, Any] | None = None,
                     *, suite_file: str | Path | None = None) -> PriceTable:
        """Defaults, then the config file's ``pricing:``, then the suite's ``pricing:`` (later wins,
        field by field). ``suite_file`` only names the suite in error messages."""
        base = defaults.prices if isinstance(defaults, PriceTable) else defaults
        table = cls(DEFAULT_PRICES if base is None else base)
        if config_file is not None:
            table = table.merged(_read_config(Path(config_file)), file=config_file)
        if suite_overrides:
            table = table.merged(suite_overrides, file=suite_file)
        return table

    def merged(self, overrides: Mapping[str, Any], *, file: str | Path | None = None) -> PriceTable:
        """A new table with ``{model: {input, output, cached_input, batch_input, batch_output}}``
        applied; a bad entry is a UserError naming the file (and line, for a loaded YAML mapping)."""
        if not isinstance(overrides, Mapping):
            raise UserError("pricing must be a mapping of model names to prices", file=file,
                            line=_line(overrides, None))
        prices = dict(self.prices)
        for model, entry in overrides.items():
            line = _line(overrides, model)
            if not isinstance(entry, Mapping) or not entry:
                raise UserError(f"pricing.{model}: expected a mapping with {', '.join(_FIELDS)} "
                                "(USD per 1M tokens)", file=file, line=line)
            unknown = sorted(set(entry) - set(_FIELDS))
            if unknown:
                raise UserError(f"pricing.{model}: unknown keys {unknown} (use {', '.join(_FIELDS)})",
                                file=file, line=line)
            values: dict[str, Any] = {}  # Price's fields: input/output floats, the rest optional
            for key, value in entry.items():
                if value is None and key not in ("input", "output"):
                    values[key] = None
                    continue
                if isinstance(value, bool) or not isinstance(value, (int, float)) \
                        or value < 0 or math.isnan(value) or math.isinf(value):
                    raise UserError(f"pricing.{model}.{key}: expected a number >= 0 "
                                    f"(USD per 1M tokens), got {value!r}", file=file, line=line)
                values[key] = float(value)
            name = str(model)
            known = prices.get(name) or prices.get(base_model(name, prices) or "")
            if name in prices:
                prices[name] = replace(prices[name], **values)
            elif "input" in values and "output" in values:
                prices[name] = Price(**values)
            elif known is not None:
                prices[name] = replace(known, **values)  # a dated name refining its base
            else:
                raise UserError(f"pricing.{model}: a model not in the default table needs both "
                                "input and output prices", file=file, line=line)
        return PriceTable(prices)

    def price(self, model: str | None) -> Price | None:
        if not model:
            return None
        try:
            return self._by_name[model]
        except KeyError:
            key = base_model(model, self.prices)
            price = self._by_name[model] = self.prices[key] if key is not None else None
            return price

    def cost(self, model: str | None, usage: Usage | None, *, batch: bool = False) -> float | None:
        """USD for one answer, or None when the model's price or the usage is unknown.

        Cached prompt tokens are billed at the cached price (in batch mode: the cheaper of the
        cached and the batch input price), the other prompt tokens at the input price.
        """
        price = self.price(model)
        if price is None or usage is None:
            return None
        in_price = price.input
        out_price = price.output
        if batch:
            in_price = price.batch_input if price.batch_input is not None else price.input
            out_price = price.batch_output if price.batch_output is not None else price.output
        cached_price = in_price if price.cached_input is None else min(price.cached_input, in_price)
        cached = min(max(usage.cached_tokens, 0), max(usage.prompt_tokens, 0))
        fresh = max(usage.prompt_tokens, 0) - cached
        total = fresh * in_price + cached * cached_price + max(usage.completion_tokens, 0) * out_price
        return total / 1_000_000


def _line(container: Any, key: Any) -> int | None:
    return line_of(container, key)


def _read_config(path: Path) -> Mapping[str, Any]:
    """The ``pricing:`` mapping of a YAML config file (other top-level keys belong to others)."""
    if not path.is_file():
        raise UserError("pricing config file not found", file=path)
    doc = load_yaml(path)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise UserError("a config file must be a YAML mapping (with a pricing: key)", file=path, line=1)
    pricing = doc.get("pricing")
    if pricing is None:
        return {}
    if not isinstance(pricing, dict):
        raise UserError("pricing must be a mapping of model names to prices", file=path,
                        line=_line(doc, "pricing"))
    return pricing


__all__ = ["DEFAULT_PRICES", "Price", "PriceTable", "base_model"]
