"""How an expanded case's id is written, and read back: ``id[matrix values-model-api]``.

One module owns the rule both ways because reports must undo it: a run over several models (or
wire APIs) puts each case's answers side by side by grouping the ids that differ only in their
model and API labels, and a saved JSON report has nothing else to group by. Case ids are letters,
digits, ``.``, ``_`` and ``-`` (the schema's pattern), so the first ``[`` is always expansion's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any


def slug(value: Any) -> str:
    """A matrix value or model name as it appears in an id (and so in a cassette's file name)."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")
    return text[:40] or "_"


def expanded_id(base_id: str, matrix_values: Sequence[Any], model: str | None, api: str | None) -> str:
    """``base_id`` with its labels: the matrix values, then the model and the API when the case
    runs on several of them (``None`` when it runs on one)."""
    labels = [slug(v) for v in matrix_values]
    if model is not None:
        labels.append(slug(model))
    if api is not None:
        labels.append(api)
    return base_id + (f"[{'-'.join(labels)}]" if labels else "")


def variant_free_id(case_id: str, model: str, api: str) -> str:
    """The id without the model and API labels ``expanded_id`` added: ``capital[gpt-4o]`` ->
    ``capital``, ``tone[formal-gpt-4o-responses]`` -> ``tone[formal]``. An id without them (one
    model, one API) is returned as it is."""
    if not case_id.endswith("]") or "[" not in case_id:
        return case_id
    head, _, inner = case_id[:-1].partition("[")
    model_label = slug(model)
    for suffix in (f"{model_label}-{api}", model_label, api):
        if inner == suffix:
            return head
        if inner.endswith("-" + suffix):
            return f"{head}[{inner[: -len(suffix) - 1]}]"
    return case_id
