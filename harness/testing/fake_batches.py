"""In-memory Files and Batch API state for the fake OpenAI server.

Kept apart from the HTTP layer so the batch life cycle (validating ->
in_progress -> completed, one step per retrieve) can be read and tested on its
own.  Nothing here locks: :class:`harness.testing.fake_openai.FakeOpenAI`
calls it while holding its own lock.  Ids and timestamps are deterministic
(sequence numbers and a fixed clock) so recordings do not churn.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.testing.fake_answers import CREATED, error_body

#: ``runner(url, body) -> (status_code, response_json)``: answers one batch line exactly like the
#: endpoint its url names.
LineRunner = Callable[[str, dict[str, Any]], tuple[int, dict[str, Any]]]

BATCH_ENDPOINTS = ("/v1/chat/completions", "/v1/responses")


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Parse multipart/form-data with the stdlib ``email`` parser (``cgi`` is gone in Python 3.13).

    Returns ``{field name: (filename or None, raw bytes)}``.
    """
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, tuple[str | None, bytes]] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            fields[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields


@dataclass
class StoredFile:
    """An uploaded (or batch-produced) file: its API object and bytes."""

    info: dict[str, Any]
    data: bytes


class BatchStore:
    """Files and batches held in memory for one server's lifetime."""

    def __init__(self) -> None:
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._inputs: dict[str, list[dict[str, Any]]] = {}
        self._seq = 0

    def _new_id(self, prefix: str, *parts: bytes | str) -> str:
        self._seq += 1
        digest = hashlib.sha256(f"{self._seq}".encode())
        for part in parts:
            digest.update(part if isinstance(part, bytes) else part.encode())
        return f"{prefix}{digest.hexdigest()[:24]}"

    # ------------------------------------------------------------------ files

    def add_file(self, filename: str, purpose: str, data: bytes) -> dict[str, Any]:
        """Store ``data`` and return the File object the API would."""
        file_id = self._new_id("file-", filename, purpose, data)
        info = {"id": file_id, "object": "file", "bytes": len(data), "created_at": CREATED + self._seq,
                "filename": filename, "purpose": purpose, "status": "processed",
                "expires_at": None, "status_details": None}
        self.files[file_id] = StoredFile(info, data)
        return info

    def upload(self, content_type: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """Handle ``POST /v1/files``."""
        if "multipart/form-data" not in content_type:
            return 400, error_body(400, "Expected multipart/form-data with 'file' and 'purpose'.")
        fields = parse_multipart(content_type, body)
        if "file" not in fields or "purpose" not in fields:
            return 400, error_body(400, "Missing required parameter: 'file' and 'purpose' are required.")
        filename, data = fields["file"]
        purpose = fields["purpose"][1].decode("utf-8", "replace").strip()
        return 200, self.add_file(filename or "upload", purpose, data)

    def delete_file(self, file_id: str) -> tuple[int, dict[str, Any]]:
        if self.files.pop(file_id, None) is None:
            return 404, error_body(404, f"No such File object: {file_id}")
        return 200, {"id": file_id, "object": "file", "deleted": True}

    # ------------------------------------------------------------------ batches

    def create_batch(self, body: Any) -> tuple[int, dict[str, Any]]:
        """Handle ``POST /v1/batches``: validate arguments, parse the input now, report ``validating``."""
        if not isinstance(body, dict):
            return 400, error_body(400, "We could not parse the JSON body of your request.")
        input_id = body.get("input_file_id")
        endpoint = body.get("endpoint")
        if input_id not in self.files:
            return 400, error_body(400, f"Invalid 'input_file_id': '{input_id}'. File not found.")
        if endpoint not in BATCH_ENDPOINTS:
            return 400, error_body(400, f"Invalid 'endpoint': '{endpoint}'. Supported: {list(BATCH_ENDPOINTS)}.")
        lines, errors = self._parse_input(self.files[input_id].data, str(endpoint))
        batch_id = self._new_id("batch_", str(input_id))
        batch = {
            "id": batch_id, "object": "batch", "endpoint": endpoint, "errors": None,
            "input_file_id": input_id, "completion_window": body.get("completion_window", "24h"),
            "status": "validating", "output_file_id": None, "error_file_id": None,
            "created_at": CREATED, "in_progress_at": None, "expires_at": CREATED + 86400,
            "finalizing_at": None, "completed_at": None, "failed_at": None, "expired_at": None,
            "cancelling_at": None, "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": body.get("metadata"), "_validation_errors": errors,
        }
        self.batches[batch_id] = batch
        self._inputs[batch_id] = lines
        return 200, self.public(batch)

    @staticmethod
    def _parse_input(data: bytes, endpoint: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        lines: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        for number, raw in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                errors.append({"code": "invalid_json_line", "line": number, "param": None,
                               "message": "This line is not parseable as valid JSON."})
                continue
            problem = None
            if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str):
                problem = ("missing_required_parameter", "Each line needs a string 'custom_id'.")
            elif line["custom_id"] in seen:
                problem = ("duplicate_custom_id", f"The custom_id '{line['custom_id']}' is not unique.")
            elif line.get("url") != endpoint or not isinstance(line.get("body"), dict):
                problem = ("invalid_url", f"Each line needs 'url': '{endpoint}' and an object 'body'.")
            if problem:
                errors.append({"code": problem[0], "line": number, "param": None, "message": problem[1]})
                continue
            seen.add(line["custom_id"])
            lines.append(line)
        if not lines and not errors:
            errors.append({"code": "empty_file", "line": None, "param": None, "message": "The input file is empty."})
        return lines, errors

    @staticmethod
    def public(batch: dict[str, Any]) -> dict[str, Any]:
        """The Batch object as the API shows it (private bookkeeping keys removed)."""
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    def retrieve(self, batch_id: str, runner: LineRunner) -> tuple[int, dict[str, Any]]:
        """Handle ``GET /v1/batches/{id}``: every retrieve moves the batch one step forward."""
        batch = self.batches.get(batch_id)
        if batch is None:
            return 404, error_body(404, f"No such Batch object: {batch_id}")
        status = batch["status"]
        step = batch["created_at"] + 1
        if status == "validating":
            if batch["_validation_errors"]:
                batch.update(status="failed", failed_at=step,
                             errors={"object": "list", "data": batch["_validation_errors"]})
            else:
                total = len(self._inputs[batch_id])
                batch.update(status="in_progress", in_progress_at=step,
                             request_counts={"total": total, "completed": 0, "failed": 0})
        elif status == "in_progress":
            self._complete(batch, runner)
        elif status == "cancelling":
            batch.update(status="cancelled", cancelled_at=step + 3)
        return 200, self.public(batch)

    def _complete(self, batch: dict[str, Any], runner: LineRunner) -> None:
        outputs: list[str] = []
        failures: list[str] = []
        usage: dict[str, Any] = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0,
                 "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}
        for line in self._inputs[batch["id"]]:
            status, response = runner(line["url"], line["body"])
            request_id = "req_" + hashlib.sha256(f"{batch['id']}:{line['custom_id']}".encode()).hexdigest()[:32]
            record = {"id": "batch_req_" + request_id[4:28], "custom_id": line["custom_id"],
                      "response": {"status_code": status, "request_id": request_id, "body": response},
                      "error": None}
            (outputs if status == 200 else failures).append(json.dumps(record))
            if status == 200:  # a chat completion's usage, or a response's
                used = response["usage"]
                usage["input_tokens"] += used.get("prompt_tokens", used.get("input_tokens", 0))
                usage["output_tokens"] += used.get("completion_tokens", used.get("output_tokens", 0))
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        step = batch["created_at"]
        batch.update(status="completed", finalizing_at=step + 2, completed_at=step + 3, usage=usage,
                     request_counts={"total": len(outputs) + len(failures), "completed": len(outputs),
                                     "failed": len(failures)})
        if outputs:
            data = ("\n".join(outputs) + "\n").encode()
            batch["output_file_id"] = self.add_file(f"{batch['id']}_output.jsonl", "batch_output", data)["id"]
        if failures:
            data = ("\n".join(failures) + "\n").encode()
            batch["error_file_id"] = self.add_file(f"{batch['id']}_error.jsonl", "batch_output", data)["id"]

    def cancel(self, batch_id: str) -> tuple[int, dict[str, Any]]:
        """Handle ``POST /v1/batches/{id}/cancel``: ``cancelling`` now, ``cancelled`` on the next retrieve."""
        batch = self.batches.get(batch_id)
        if batch is None:
            return 404, error_body(404, f"No such Batch object: {batch_id}")
        if batch["status"] in ("completed", "failed", "expired", "cancelled"):
            return 400, error_body(400, f"Cannot cancel a batch with status '{batch['status']}'.")
        batch.update(status="cancelling", cancelling_at=batch["created_at"] + 2)
        return 200, self.public(batch)

    def list_batches(self) -> dict[str, Any]:
        data = [self.public(b) for b in reversed(list(self.batches.values()))]
        return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None, "has_more": False}
