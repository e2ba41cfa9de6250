"""An OpenAI-compatible fake server on loopback, built on the standard library only.

Why: the test suite, the benchmarks and the recording of the example cassettes
must run without an API key or any network but 127.0.0.1, yet go through the
real ``openai`` SDK (sync, async, streaming, retries, Azure, Batch API).  So
this speaks the wire protocol - Chat Completions (JSON and SSE), Azure
deployment paths, models, Files and Batches - answers deterministically (see
:mod:`harness.testing.fake_answers`), and adds the volatile headers real
responses carry (request ids, cookies, dates) so the harness has to learn to
drop them from recordings.

Use in-process::

    with FakeOpenAI(rules=[Rule(contains="weather", content="Sunny")]) as fake:
        client = OpenAI(base_url=fake.base_url, api_key="sk-test")

or from the command line (prints the base URL, serves until SIGINT/SIGTERM)::

    python -m harness.testing.fake_openai --port 8080 --rules rules.yaml --latency 0.2
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.testing.fake_answers import (
    Answer,
    Rule,
    body_digest,
    build_completion,
    default_answer,
    draw_passes,
    error_body,
    last_user_text,
    rule_answer,
    stream_chunks,
    text_answer,
)
from harness.testing.fake_batches import BatchStore
from harness.testing.fake_echo import ERROR_MESSAGE, presented_key, rewriter
from harness.testing.fake_http import Handler, RecordedRequest, Reply, Server
from harness.testing.fake_responses import ResponseStore, stream_events
from harness.testing.fake_responses import validate as validate_responses

__all__ = ["FakeOpenAI", "RecordedRequest", "Rule", "main"]

MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-4.1-mini", "o3-mini", "gpt-5.1", "text-embedding-3-small")
_AZURE_CHAT = re.compile(r"^/openai/deployments/([^/]+)/chat/completions$")
_RESPONSES_PATHS = ("/v1/responses", "/openai/responses")  # OpenAI, Azure (model in the body)


@dataclass
class _RuleSlot:
    rule: Rule
    remaining: int | None


class FakeOpenAI:
    """The fake server: configure, ``start()`` (or use as a context manager), point a client at ``base_url``.

    Answer selection per chat request: ``fault_every`` fault -> first matching
    :class:`Rule` -> exact ``responses[last user text]`` -> synthesized default.
    All mutable state is guarded by one lock, so rules may be added while
    requests are in flight.
    """

    def __init__(self, *, rules: Iterable[Rule] = (), responses: dict[str, str] | None = None,
                 latency: float = 0.0, fault_every: int = 0, fault_status: int = 429,
                 fault_retry_after: float = 1.0, require_key: str | None = None, gzip: bool = True,
                 host: str = "127.0.0.1", port: int = 0, verbose: bool = False) -> None:
        self._lock = threading.RLock()
        self._rules = [_RuleSlot(r, r.times) for r in rules]
        self.responses: dict[str, str] = dict(responses or {})
        self.latency = latency
        self.fault_every = fault_every
        self.fault_status = fault_status
        self.fault_retry_after = fault_retry_after
        self.require_key = require_key
        self.gzip = gzip
        self.verbose = verbose
        self._address = (host, port)
        self._requests: list[RecordedRequest] = []
        self._chat_count = 0
        self._reply_count = 0
        self._draws: dict[tuple[int, str], int] = {}  # (rule, request digest) -> answers drawn
        self._store = BatchStore()
        self._responses = ResponseStore()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeOpenAI:
        """Bind and serve on a daemon thread; returns self so ``fake = FakeOpenAI().start()`` reads well."""
        if self._server is not None:
            raise RuntimeError("FakeOpenAI is already running")
        server = Server(self._address, Handler)
        server.backend = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-openai-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAI:
        return self if self._server is not None else self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def azure_endpoint(self) -> str:
        """``http://HOST:PORT``, for ``AzureOpenAI(azure_endpoint=...)``."""
        host = self._address[0]
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1``, for ``OpenAI(base_url=...)``."""
        return self.azure_endpoint + "/v1"

    # ------------------------------------------------------------------ state

    def add_rule(self, rule: Rule) -> None:
        """Append a rule (thread-safe); earlier rules keep priority."""
        with self._lock:
            self._rules.append(_RuleSlot(rule, rule.times))

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the request log (e.g. between phases of one test)."""
        with self._lock:
            self._requests.clear()

    def answer(self, body: dict[str, Any], model: str) -> Answer:
        """Pick the answer for a chat body: first matching rule, then ``responses``, then synthesis."""
        text = last_user_text(body.get("messages"))
        chosen: Rule | None = None
        passes = True
        with self._lock:
            for index, slot in enumerate(self._rules):
                rule = slot.rule
                if slot.remaining is not None and slot.remaining <= 0:
                    continue
                if (rule.contains is None or rule.contains in text) and rule.model in (None, model) \
                        and rule.applies(body):
                    if slot.remaining is not None:
                        slot.remaining -= 1
                    chosen = rule
                    if rule.pass_probability is not None:
                        passes = self._draw(index, rule, body, model)
                    break
            canned = self.responses.get(text) if chosen is None else None
        if chosen is not None:
            return rule_answer(chosen, body, passes=passes)
        return text_answer(canned, body) if canned is not None else default_answer(body)

    def _draw(self, index: int, rule: Rule, body: dict[str, Any], model: str) -> bool:
        """The next coin of a stochastic rule for this request (caller holds the lock). Counted
        per request body, so other cases' requests arriving in between never shift it."""
        digest = body_digest(_content_keys(body), model)
        draw = self._draws.get((index, digest), 0)
        self._draws[(index, digest)] = draw + 1
        return draw_passes(float(rule.pass_probability or 0.0), rule.seed, digest, draw)

    def complete(self, body: dict[str, Any], model: str) -> tuple[Answer, dict[str, Any] | None]:
        """The answer and, unless it is an error, the ``chat.completion`` object for ``body``."""
        answer = self.answer(body, model)
        if answer.status is not None:
            return answer, None
        return answer, build_completion(body, answer, model=model, digest=body_digest(_content_keys(body), model))

    # ------------------------------------------------------------------ request handling

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _handle(self, request: RecordedRequest) -> Reply:
        """Route one request; runs on the connection's thread."""
        path, method = request.path, request.method
        azure = _AZURE_CHAT.match(path)
        if self.require_key is not None and not self._authorized(request, azure_style=path.startswith("/openai/")):
            return Reply(401, error_body(401, "Incorrect API key provided (fake server).", "invalid_api_key"))
        if (azure or path == "/openai/responses") and "api-version" not in request.query:
            return Reply(400, error_body(400, "Missing required query parameter 'api-version'.",
                                          "missing_api_version"))
        if azure:
            return self._chat(request, model=azure.group(1))
        if method == "POST" and path in _RESPONSES_PATHS:
            return self._responses_endpoint(request)
        if method == "POST" and path == "/v1/chat/completions":
            return self._chat(request, model=None)
        if method == "GET" and path == "/v1/models":
            return Reply(200, {"object": "list", "data": [_model(m) for m in MODELS]})
        if method == "GET" and path.startswith("/v1/models/"):
            return Reply(200, _model(path.rsplit("/", 1)[1]))
        if method == "GET" and path.startswith("/v1/files/") and path.endswith("/content"):
            time.sleep(self.latency)  # downloading batch output counts as "real work"; never sleep holding the lock
        with self._lock:
            return self._files_and_batches(request)

    def _authorized(self, request: RecordedRequest, *, azure_style: bool) -> bool:
        """A bearer token, Azure's api-key header, or a gateway-style ``?api-key=`` parameter."""
        bearer = request.headers.get("authorization", "") == f"Bearer {self.require_key}"
        in_query = self.require_key in (request.query.get("api-key"), request.query.get("key"))
        return bearer or in_query or (azure_style and request.headers.get("api-key") == self.require_key)

    def _files_and_batches(self, request: RecordedRequest) -> Reply:
        method, parts = request.method, request.path.strip("/").split("/")
        store = self._store
        if parts[:2] == ["v1", "files"]:
            if method == "POST" and len(parts) == 2:
                return Reply(*store.upload(request.headers.get("content-type", ""), request.body))
            if method == "GET" and len(parts) == 2:
                return Reply(200, {"object": "list", "data": [f.info for f in store.files.values()],
                                    "has_more": False})
            stored = store.files.get(parts[2]) if len(parts) > 2 else None
            if stored is None:
                return Reply(404, error_body(404, f"No such File object: {'/'.join(parts[2:])}"))
            if method == "GET" and len(parts) == 3:
                return Reply(200, stored.info)
            if method == "DELETE" and len(parts) == 3:
                return Reply(*store.delete_file(parts[2]))
            if method == "GET" and parts[3:] == ["content"]:
                return Reply(200, raw=stored.data, content_type="application/octet-stream")
        if parts[:2] == ["v1", "batches"]:
            if method == "POST" and len(parts) == 2:
                return Reply(*store.create_batch(request.json))
            if method == "GET" and len(parts) == 2:
                return Reply(200, store.list_batches())
            if method == "GET" and len(parts) == 3:
                return Reply(*store.retrieve(parts[2], self._run_batch_line))
            if method == "POST" and parts[3:] == ["cancel"]:
                return Reply(*store.cancel(parts[2]))
        return Reply(404, error_body(404, f"Invalid URL ({method} {request.path})"))

    def _run_batch_line(self, url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if url == "/v1/responses":
            status, payload, _answer = self.respond(body)
            return status, payload
        problem = _validate_chat(body, need_model=True)
        if problem:
            return 400, problem
        answer, completion = self.complete(body, str(body["model"]))
        if completion is None:
            return int(answer.status or 500), error_body(int(answer.status or 500))
        return 200, {**completion, "choices": []} if answer.defect == "no_choices" else completion

    def _chat(self, request: RecordedRequest, model: str | None) -> Reply:
        body = request.json
        problem = _validate_chat(body, need_model=model is None)
        if problem:
            return Reply(400, problem)
        model = model or str(body["model"])
        faulted = self._fault_or_wait()
        if faulted is not None:
            return faulted
        answer, completion = self.complete(body, model)
        echo = rewriter(presented_key(request.headers, request.query), answer.echo_key) \
            if answer.echo_key else None
        if completion is None:
            reply = self._error(int(answer.status or 500), answer.retry_after)
            if echo is not None:
                reply.payload = error_body(reply.status, ERROR_MESSAGE)
                reply.rewrite = echo
            return reply
        if answer.defect == "no_choices":
            return Reply(200, {**completion, "choices": []})
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = list(stream_chunks(completion, include_usage=include_usage))
            if answer.defect == "cut_stream":  # a clean end halfway: neither finish_reason nor [DONE]
                cut = b"".join(b"data: %s\n\n" % json.dumps(e).encode() for e in events[:len(events) // 2])
                return Reply(200, raw=cut, content_type="text/event-stream; charset=utf-8")
            return Reply(200, events=events, content_type="text/event-stream; charset=utf-8", rewrite=echo)
        return Reply(200, completion, rewrite=echo)

    def _fault_or_wait(self) -> Reply | None:
        """Count a model request; the scripted fault when it is its turn, else None after the
        usual latency. A rate limiter rejects before any model work, so a 429 comes back at once,
        as real gateways send it; other faults (5xx) arrive after the usual latency."""
        with self._lock:
            self._chat_count += 1
            fault = self.fault_every > 0 and self._chat_count % self.fault_every == 0
        if fault and self.fault_status == 429:
            return self._error(self.fault_status, self.fault_retry_after)
        time.sleep(self.latency)
        return self._error(self.fault_status, self.fault_retry_after) if fault else None

    def respond(self, body: Any) -> tuple[int, dict[str, Any], Answer | None]:
        """A Responses API request answered by the chat logic (see fake_responses.ResponseStore)."""
        return self._responses.respond(body, self.complete)

    def _responses_endpoint(self, request: RecordedRequest) -> Reply:
        """``POST /v1/responses``: faults and latency as for chat, then the answer, JSON or streamed."""
        problem = validate_responses(request.json)
        if problem:  # a malformed request is refused before it counts, as on the chat endpoint
            return Reply(400, problem)
        faulted = self._fault_or_wait()
        if faulted is not None:
            return faulted
        body = request.json
        status, payload, answer = self.respond(body)
        if answer is None:  # the request itself was refused
            return Reply(status, payload)
        echo = rewriter(presented_key(request.headers, request.query), answer.echo_key) if answer.echo_key else None
        if status != 200:
            reply = self._error(status, answer.retry_after)
            if echo is not None:
                reply.payload = error_body(reply.status, ERROR_MESSAGE)
                reply.rewrite = echo
            return reply
        if body.get("stream"):
            events = list(stream_events(payload))
            if answer.defect == "cut_stream":  # ends halfway: no response.completed
                events = events[:len(events) // 2]
            return Reply(200, events=events, named_events=True, content_type="text/event-stream; charset=utf-8",
                         rewrite=echo)
        return Reply(200, payload, rewrite=echo)

    @staticmethod
    def _error(status: int, retry_after: float | None) -> Reply:
        headers: dict[str, str] = {}
        if retry_after is None and status == 429:
            retry_after = 1.0  # rate limits always say when to come back
        if retry_after is not None:
            # Retry-After is integral per RFC 9110 (urllib3 & co. reject "0.5"); the ms header keeps precision.
            headers["retry-after"] = str(max(0, int(-(-retry_after // 1))))
            headers["retry-after-ms"] = str(max(0, round(retry_after * 1000)))
        return Reply(status, error_body(status), headers)

    def _volatile_headers(self, azure: bool) -> dict[str, str]:
        """Per-reply headers that differ on every call, as a real deployment's do."""
        with self._lock:
            self._reply_count += 1
            remaining = 9999 - self._reply_count % 10000
        headers = {
            "x-request-id": f"req_{uuid.uuid4().hex}",
            "openai-processing-ms": str(random.randint(80, 900)),
            "openai-organization": "org-fake",
            "openai-version": "2020-10-01",
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-remaining-requests": str(remaining),
            "x-ratelimit-reset-requests": f"{random.randint(6, 60)}ms",
            "set-cookie": f"__cf_bm={uuid.uuid4().hex}{uuid.uuid4().hex}; path=/; HttpOnly",
            "cf-ray": f"{random.getrandbits(64):016x}-FAK",
        }
        if azure:
            headers["apim-request-id"] = str(uuid.uuid4())
        return headers


def _content_keys(body: dict[str, Any]) -> dict[str, Any]:
    """The body without transport options: they do not change the answer, so streamed and plain
    replies share ids (and a stochastic rule's draws)."""
    return {k: v for k, v in body.items() if k not in ("stream", "stream_options")}


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 1700000000, "owned_by": "openai"}


def _validate_chat(body: Any, *, need_model: bool) -> dict[str, Any] | None:
    """The 400 body the real API would send for a malformed chat request, or None."""
    if not isinstance(body, dict):
        return error_body(400, "We could not parse the JSON body of your request. (HINT: This likely means you "
                               "aren't using your HTTP library correctly.)")
    if need_model and not isinstance(body.get("model"), str):
        return error_body(400, "you must provide a model parameter", "missing_required_parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return error_body(400, "Missing required parameter: 'messages'.", "missing_required_parameter")
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        return error_body(400, "Invalid 'messages': every message needs a 'role'.", "invalid_value")
    return None


# ---------------------------------------------------------------------- command line


def _load_rules(path: str) -> list[Rule]:
    import yaml  # only the CLI needs it; the server itself is stdlib-only

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    if isinstance(data, dict):
        data = data.get("rules", [])
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of rules (or a mapping with a 'rules' list)")
    return [Rule.from_mapping(item) for item in data]


def _load_responses(path: str) -> dict[str, str]:
    responses: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            item = json.loads(line)
            if not isinstance(item, dict) or "prompt" not in item or "response" not in item:
                raise ValueError(f"{path}:{number}: expected {{\"prompt\": ..., \"response\": ...}}")
            responses[str(item["prompt"])] = str(item["response"])
    return responses


def main(argv: list[str] | None = None) -> int:
    """Serve from the command line: print the base URL, run until SIGINT/SIGTERM, exit 0."""
    parser = argparse.ArgumentParser(prog="python -m harness.testing.fake_openai", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port (default 8080)")
    parser.add_argument("--rules", help="YAML list of rules (Rule fields as keys)")
    parser.add_argument("--responses", help='JSONL lines of {"prompt": ..., "response": ...}')
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to sleep before each chat answer")
    parser.add_argument("--fault-every", type=int, default=0, help="answer every Nth chat request with an error")
    parser.add_argument("--fault-status", type=int, default=429)
    parser.add_argument("--fault-retry-after", type=float, default=1.0)
    parser.add_argument("--require-key", help="reject requests without this API key (401)")
    parser.add_argument("--no-gzip", action="store_true", help="never gzip response bodies")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    try:
        fake = FakeOpenAI(rules=_load_rules(args.rules) if args.rules else (),
                          responses=_load_responses(args.responses) if args.responses else None,
                          latency=args.latency, fault_every=args.fault_every, fault_status=args.fault_status,
                          fault_retry_after=args.fault_retry_after, require_key=args.require_key,
                          gzip=not args.no_gzip, host=args.host, port=args.port, verbose=args.verbose)
        fake.start()
    except (OSError, ValueError, TypeError) as exc:
        print(f"fake_openai: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():  # signal handlers may only be set there
        previous = {sig: signal.signal(sig, lambda *_: done.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    print(fake.base_url, flush=True)
    print(f"azure_endpoint: {fake.azure_endpoint}", file=sys.stderr, flush=True)
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
