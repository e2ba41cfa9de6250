"""Record through the Batch API (half price): one JSONL upload, one batch, one cassette per case.

The results are written exactly as if each case had been recorded on its own (same request body,
same cassette), marked ``batch: true`` so cost reports use batch prices. The batch id is saved in
``.harness/batches/`` before polling starts, so an interrupted run (Ctrl-C, a closed laptop) picks
the same batch up again instead of paying twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import apis, cassettes, redact
from .cassettes import Interaction
from .errors import UserError
from .output import Output
from .request import Request
from .safe_files import state_dir

STATE_DIR = Path(".harness") / "batches"
FINAL = ("completed", "failed", "expired", "cancelled")


@dataclass
class BatchOutcome:
    """Per request: the interaction to save, or the error that prevented it."""

    interaction: Interaction | None
    output: Output


def _custom_id(index: int, request: Request) -> str:
    return f"case-{index}-{request.key[:16]}"


def _state_path(requests: list[Request]) -> Path:
    digest = hashlib.sha256("\n".join(sorted(r.key for r in requests)).encode()).hexdigest()[:20]
    return state_dir(STATE_DIR) / f"{digest}.json"


def _client(request: Request) -> Any:
    import openai

    endpoint = request.endpoint
    if endpoint.type == "azure":
        raise UserError("--batch supports the openai and compatible providers (Azure batches use "
                        "a different deployment model); record Azure suites without --batch")
    key = os.environ.get(endpoint.key_env)
    if not key:
        if "api.openai.com" in (endpoint.base_url or ""):
            raise UserError(f"set {endpoint.key_env} to record against the OpenAI API")
        key = "no-key"
    return openai.OpenAI(api_key=key, base_url=endpoint.base_url, max_retries=2,
                         default_query=dict(endpoint.default_query) or None)


def run_batch(requests: list[Request], *, poll_interval: float, stop: threading.Event,
              say: Callable[[str], None]) -> list[BatchOutcome] | None:
    """Submit (or resume) one batch per wire API for these requests and wait for them (a batch
    has one endpoint: ``/v1/chat/completions`` or ``/v1/responses``).

    Returns one outcome per request, in order, or None when stopped before every batch finished
    (a batch keeps running server-side; the same command resumes it).
    """
    if not requests:
        return []
    bases = {(r.endpoint.base_url, r.endpoint.default_query, r.endpoint.key_env) for r in requests}
    if len(bases) > 1:
        raise UserError("--batch needs every pending case to use the same provider and base_url; "
                        "record the suites one provider at a time")
    outcomes: dict[int, BatchOutcome] = {}
    for name in apis.NAMES:
        indexes = [i for i, r in enumerate(requests) if r.api == name]
        if not indexes:
            continue
        done = _run_one(apis.get(name), [requests[i] for i in indexes], poll_interval=poll_interval,
                        stop=stop, say=say)
        if done is None:
            return None
        outcomes.update(zip(indexes, done, strict=True))
    return [outcomes[i] for i in range(len(requests))]


def _run_one(api: apis.WireApi, requests: list[Request], *, poll_interval: float, stop: threading.Event,
             say: Callable[[str], None]) -> list[BatchOutcome] | None:
    """One batch of requests of one wire API: submit or resume it, poll it, read its results."""
    client = _client(requests[0])
    ids = [_custom_id(i, r) for i, r in enumerate(requests)]
    state_file = _state_path(requests)
    batch_id = None
    if state_file.exists():
        batch_id = json.loads(state_file.read_text())["batch_id"]
        say(f"resuming batch {batch_id} (saved in {state_file})")
    else:
        lines = "".join(json.dumps({"custom_id": cid, "method": "POST", "url": api.batch_url,
                                    "body": r.wire}, ensure_ascii=False) + "\n"
                        for cid, r in zip(ids, requests, strict=True))
        uploaded = client.files.create(file=("harness-batch.jsonl", lines.encode("utf-8")),
                                       purpose="batch")
        batch = client.batches.create(input_file_id=uploaded.id, endpoint=api.batch_url,
                                      completion_window="24h")
        batch_id = batch.id
        cassettes.atomic_write(state_file, redact.clean(json.dumps(
            {"batch_id": batch_id, "input_file_id": uploaded.id, "requests": len(requests)}) + "\n"))
        say(f"submitted batch {batch_id} with {len(requests)} requests")
    last_status = None
    while True:
        batch = client.batches.retrieve(batch_id)
        counts = batch.request_counts
        status_line = f"batch {batch_id}: {batch.status}" + (
            f" ({counts.completed}/{counts.total} done, {counts.failed} failed)" if counts else "")
        if status_line != last_status:
            say(status_line)
            last_status = status_line
        if batch.status in FINAL:
            break
        if stop.wait(poll_interval):
            say(f"stopped polling; batch {batch_id} keeps running. Run the same command again to "
                "pick it up.")
            return None
    if batch.status != "completed":
        state_file.unlink(missing_ok=True)
        errors = "; ".join(e.message or "" for e in (batch.errors.data if batch.errors else []) or [])
        raise UserError(f"batch {batch_id} ended {batch.status}" + (f": {errors}" if errors else ""))
    results: dict[str, dict[str, Any]] = {}
    for file_id in (batch.output_file_id, batch.error_file_id):
        if file_id:
            for line in client.files.content(file_id).text.splitlines():
                if line.strip():
                    item = json.loads(line)
                    results[item["custom_id"]] = item
    outcomes = [_outcome(api, request, results.get(cid)) for cid, request in zip(ids, requests, strict=True)]
    state_file.unlink(missing_ok=True)
    return outcomes


def _outcome(api: apis.WireApi, request: Request, item: dict[str, Any] | None) -> BatchOutcome:
    if item is None:
        return BatchOutcome(None, Output(content=None, status=0, error="missing from the batch output"))
    response = item.get("response") or {}
    status = int(response.get("status_code") or 0)
    body = response.get("body")
    if item.get("error") or status >= 400 or not isinstance(body, dict):
        err = item.get("error") or (body or {}).get("error") or {}
        message = err.get("message") if isinstance(err, dict) else str(err)
        return BatchOutcome(None, Output(content=None, status=status, error=f"batch line failed: "
                                         f"HTTP {status}: {message}"))
    text = json.dumps(body, ensure_ascii=False)
    headers = {"content-type": "application/json"}
    output = apis.parse_answer(api, status, headers, text)
    if output.error:  # an incomplete answer is never recorded, whichever road it came by
        return BatchOutcome(None, output)
    base = (request.endpoint.base_url or "").rstrip("/")
    interaction = Interaction(method="POST", uri=base + request.path, path=request.path,
                              query=dict(request.query), body=request.wire, status=status,
                              response_headers=headers, response_text=text,
                              extra={"batch": True})
    return BatchOutcome(interaction, output)
