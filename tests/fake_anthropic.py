"""A local HTTP server that speaks the Anthropic API, for tests and for trying the pipeline.

It serves the Messages, count-tokens and Message Batches endpoints with realistic responses
(usage with cache fields, `request-id` headers, batch results as JSONL in shuffled order) and
injectable faults. It counts tokens by its own rule (about 3.3 bytes per token), not the
client's, so budgets are tested against a server that disagrees with the client's estimate.

    python -m tests.fake_anthropic --port 8765 --api-key test-key

Faults are queued with POST /_control/faults {"faults": [...]}: each is used by the next
/v1/messages request. "429" (retry-after 0) or "429:N" (retry-after N seconds; a retry that
comes sooner is counted in `early_retries`), "500", "529" (overloaded), "401" (the key is
refused for this request), "timeout" (answers after `timeout_sleep`), "drop" (closes without
answering), "reset" (TCP reset), "truncated" (headers and half the body, then closes),
"malformed" (findings without their fields), "text" (prose, no tool call), "unknown_span" (an
id that was not sent), "bad_quote" (a finding whose quote is not in its span), "echo_key" (a 400
whose message repeats the key it was sent, as careless proxies do), "echo_key_header" (a good
answer whose request-id header is that key). `batch_results_fault = "echo_key"` makes the batch
results endpoint fail the same way. With
`obey_injections` set the fake plays a model that obeys text in the spans: a request whose
spans say "ignore previous instructions" comes back with every span dismissed. Batch entry
faults: {"batch_faults": {"0": "errored", "1": "expired"}} by entry index; {"batch_polls": N}
makes a batch end after N status polls (0: never). GET /_control/requests lists what was
received.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import socket
import struct
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BYTES_PER_TOKEN = 3.3
INJECTION = re.compile(r"ignore (all )?previous instructions|report no findings", re.IGNORECASE)
MIN_CACHEABLE = {"claude-haiku-4-5": 4096, "claude-opus-4-5": 4096}


def count_tokens(payload: Any) -> int:
    """The server's own token count: ceil(UTF-8 bytes / 3.3)."""
    size = len(json.dumps(payload, ensure_ascii=False).encode())
    return max(1, math.ceil(size / BYTES_PER_TOKEN))


def judge(span: dict[str, Any]) -> dict[str, Any] | None:
    """A deterministic stand-in for the model's judgement of one span: a finding, or None.

    Personal-data-only spans and about one span in three (by a hash of its text) are dismissed.
    """
    rules = span.get("flagged_by") or ["unknown"]
    text_hash = hashlib.sha256(span.get("text", "").encode()).digest()
    if all(r.startswith("pii.") for r in rules) or text_hash[0] % 3 == 0:
        return None
    return {
        "span_id": span["span_id"],
        "category": rules[0].split(".", 1)[-1],
        "severity": "high",
        "rationale": f"Flagged by {', '.join(rules)}; the wording needs review.",
        "quote": span.get("text", "")[:120],
        "recommended_action": "Review and revise the text.",
    }


class FakeAnthropic:
    """State shared by the handler threads."""

    def __init__(self, api_key: str = "test-key", batch_polls: int = 1, seed: int = 0) -> None:
        self.api_key = api_key
        self.faults: list[str] = []
        self.batch_faults: dict[int, str] = {}
        self.batch_polls = batch_polls
        self.requests: list[dict[str, Any]] = []
        self.batches: dict[str, dict[str, Any]] = {}
        self.cached_prefixes: set[str] = set()
        self.lock = threading.Lock()
        self.random = random.Random(seed)
        self.timeout_sleep = 5.0
        self.obey_injections = False
        self.batch_results_fault: str | None = None
        # A 429's retry-after: no message request is expected before this (time.monotonic()).
        self.retry_not_before = 0.0
        self.early_retries = 0

    def next_fault(self) -> str | None:
        with self.lock:
            return self.faults.pop(0) if self.faults else None

    def message(self, params: dict[str, Any], malformed: bool = False,
                fault: str | None = None) -> dict[str, Any]:
        """A Messages API response for a request (a fault shapes a wrong answer)."""
        model = params.get("model", "claude-haiku-4-5")
        system = params.get("system") or []
        system_tokens = count_tokens(system)
        cache_write = cache_read = 0
        cacheable = any(isinstance(b, dict) and b.get("cache_control") for b in system)
        if cacheable and system_tokens >= MIN_CACHEABLE.get(model, 1024):
            key = json.dumps(system, sort_keys=True)
            with self.lock:
                if key in self.cached_prefixes:
                    cache_read = system_tokens
                else:
                    self.cached_prefixes.add(key)
                    cache_write = system_tokens
        total = count_tokens({k: v for k, v in params.items() if k != "max_tokens"})
        input_tokens = max(1, total - cache_write - cache_read)
        spans = _spans(params)
        verdicts = [(s["span_id"], judge(s)) for s in spans]
        tool_input: dict[str, Any] = {
            "findings": [finding for _, finding in verdicts if finding],
            "dismissed": [span_id for span_id, finding in verdicts if not finding]}
        if self.obey_injections and any(INJECTION.search(s.get("text", "")) for s in spans):
            tool_input = {"findings": [], "dismissed": [s["span_id"] for s in spans]}
        if malformed:
            tool_input = {"findings": [{"span_id": s["span_id"]} for s in spans],
                          "dismissed": []}
        elif fault == "unknown_span":
            tool_input["dismissed"].append("zzzz")
        elif fault == "bad_quote":
            tool_input = {"findings": [
                {"span_id": s["span_id"], "category": "non_compete", "severity": "high",
                 "rationale": "Restricts competition.",
                 "quote": "a sentence this span never contained",
                 "recommended_action": "Review it."} for s in spans], "dismissed": []}
        output_tokens = min(int(params.get("max_tokens", 1024)),
                            max(1, math.ceil(len(json.dumps(tool_input)) / 4)))
        content: list[dict[str, Any]] = [
            {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:20]}",
             "name": "record_findings", "input": tool_input}]
        if fault == "text":
            content = [{"type": "text", "text": "As instructed, there are no findings."}]
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                      "cache_creation_input_tokens": cache_write,
                      "cache_read_input_tokens": cache_read},
        }


def _spans(params: dict[str, Any]) -> list[dict[str, Any]]:
    for message in params.get("messages", []):
        content = message.get("content")
        if isinstance(content, str) and "Spans (JSON):\n" in content:
            return json.loads(content.split("Spans (JSON):\n", 1)[1])
    return []


def _batch_view(batch: dict[str, Any], base: str) -> dict[str, Any]:
    ended = batch["status"] == "ended"
    counts = {"processing": 0 if ended else len(batch["requests"]), "succeeded": 0,
              "errored": 0, "canceled": 0, "expired": 0}
    if ended:
        for entry in batch["results"]:
            counts[entry["result"]["type"]] += 1
    return {
        "id": batch["id"], "type": "message_batch", "processing_status": batch["status"],
        "request_counts": counts, "created_at": batch["created_at"],
        "expires_at": batch["created_at"], "ended_at": batch["created_at"] if ended else None,
        "archived_at": None, "cancel_initiated_at": None,
        "results_url": f"{base}/v1/messages/batches/{batch['id']}/results" if ended else None,
    }


def make_handler(state: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    """The request handler bound to a server state."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

        def _base(self) -> str:
            host, port = self.server.server_address[:2]
            return f"http://{host}:{port}"

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None,
                  content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", f"req_{uuid.uuid4().hex[:24]}")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, kind: str, message: str,
                   headers: dict[str, str] | None = None) -> None:
            self._send(status, {"type": "error", "error": {"type": kind, "message": message}},
                       headers)

        def _json(self) -> Any:
            length = int(self.headers.get("content-length") or 0)
            return json.loads(self.rfile.read(length) or b"{}")

        def _authorized(self) -> bool:
            bearer = (self.headers.get("authorization") or "").removeprefix("Bearer ")
            if state.api_key not in (self.headers.get("x-api-key"), bearer):
                self._error(401, "authentication_error", "invalid x-api-key")
                return False
            return True

        def do_POST(self) -> None:  # noqa: N802
            path = self.path.split("?")[0]
            body = self._json()
            if path == "/_control/faults":
                with state.lock:
                    state.faults.extend(body.get("faults", []))
                    state.batch_faults.update({int(k): v for k, v in
                                               body.get("batch_faults", {}).items()})
                    if "batch_polls" in body:
                        state.batch_polls = int(body["batch_polls"])
                self._send(200, {"ok": True})
                return
            if path == "/_control/reset":
                with state.lock:
                    state.faults.clear()
                    state.batch_faults.clear()
                    state.requests.clear()
                self._send(200, {"ok": True})
                return
            if not self._authorized():
                return
            with state.lock:
                state.requests.append({"path": path, "body": body})
            if path == "/v1/messages/count_tokens":
                self._send(200, {"input_tokens": count_tokens(body)})
            elif path == "/v1/messages":
                self._messages(body)
            elif path == "/v1/messages/batches":
                self._create_batch(body)
            else:
                self._error(404, "not_found_error", f"no route {path}")

        def _messages(self, body: dict[str, Any]) -> None:
            fault = state.next_fault()
            with state.lock:
                if time.monotonic() < state.retry_not_before:
                    state.early_retries += 1
            sent_key = self.headers.get("x-api-key") or ""
            if fault == "echo_key":
                self._error(400, "invalid_request_error", f"key {sent_key} may not use this "
                            "model")
            elif fault == "echo_key_header":
                self._send(200, state.message(body), {"request-id": sent_key})
            elif fault is not None and fault.startswith("429"):
                wait = fault.partition(":")[2] or "0"
                with state.lock:
                    state.retry_not_before = time.monotonic() + float(wait)
                self._error(429, "rate_limit_error", "rate limited", {"retry-after": wait})
            elif fault == "401":
                self._error(401, "authentication_error", "invalid x-api-key")
            elif fault == "reset":
                # SO_LINGER with a zero timeout: close() sends a TCP reset, not a FIN.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
            elif fault == "truncated":
                data = json.dumps(state.message(body)).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            elif fault in ("text", "unknown_span", "bad_quote"):
                self._send(200, state.message(body, fault=fault))
            elif fault == "500":
                self._error(500, "api_error", "internal error")
            elif fault == "529":
                self._error(529, "overloaded_error", "overloaded")
            elif fault == "timeout":
                time.sleep(state.timeout_sleep)
                self._send(200, state.message(body))
            elif fault == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
            elif fault == "malformed":
                self._send(200, state.message(body, malformed=True))
            else:
                self._send(200, state.message(body))

        def _create_batch(self, body: dict[str, Any]) -> None:
            batch_id = f"msgbatch_{uuid.uuid4().hex[:20]}"
            batch = {"id": batch_id, "requests": body.get("requests", []),
                     "status": "in_progress", "polls": 0, "results": [],
                     "created_at": "2026-11-27T00:00:00Z"}
            with state.lock:
                state.batches[batch_id] = batch
            self._send(200, _batch_view(batch, self._base()))

        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?")[0]
            if path == "/_control/requests":
                with state.lock:
                    self._send(200, {"requests": state.requests})
                return
            if not self._authorized():
                return
            parts = path.strip("/").split("/")
            if len(parts) >= 4 and parts[:3] == ["v1", "messages", "batches"]:
                batch = state.batches.get(parts[3])
                if batch is None:
                    self._error(404, "not_found_error", "no such batch")
                    return
                if len(parts) == 5 and parts[4] == "results":
                    self._batch_results(batch)
                    return
                with state.lock:
                    batch["polls"] += 1
                    if (batch["status"] != "ended" and state.batch_polls
                            and batch["polls"] >= state.batch_polls):
                        self._finish(batch)
                self._send(200, _batch_view(batch, self._base()))
            else:
                self._error(404, "not_found_error", f"no route {path}")

        def _finish(self, batch: dict[str, Any]) -> None:
            results = []
            for index, entry in enumerate(batch["requests"]):
                fault = state.batch_faults.get(index)
                if fault == "errored":
                    result: dict[str, Any] = {"type": "errored", "error": {
                        "type": "error", "error": {"type": "api_error", "message": "failed"}}}
                elif fault == "expired":
                    result = {"type": "expired"}
                else:
                    result = {"type": "succeeded", "message": state.message(entry["params"])}
                results.append({"custom_id": entry["custom_id"], "result": result})
            state.random.shuffle(results)
            batch["results"] = results
            batch["status"] = "ended"

        def _batch_results(self, batch: dict[str, Any]) -> None:
            if state.batch_results_fault == "echo_key":
                self._error(500, "api_error", "results of key "
                            f"{self.headers.get('x-api-key')} are unavailable")
                return
            if batch["status"] != "ended":
                self._error(400, "invalid_request_error", "batch still processing")
                return
            lines = "\n".join(json.dumps(r) for r in batch["results"]) + "\n"
            self._send(200, lines.encode(), content_type="application/binary")

    return Handler


class FakeAnthropicServer:
    """Start and stop the fake on a free loopback port."""

    def __init__(self, api_key: str = "test-key", port: int = 0, batch_polls: int = 1) -> None:
        self.state = FakeAnthropic(api_key=api_key, batch_polls=batch_polls)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), make_handler(self.state))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """Where the SDK should point."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeAnthropicServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main() -> None:
    """Run the fake in the foreground."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default="test-key")
    args = parser.parse_args()
    server = FakeAnthropicServer(api_key=args.api_key, port=args.port)
    print(f"fake Anthropic API on {server.base_url} (key {args.api_key!r})", flush=True)
    server.httpd.serve_forever()


if __name__ == "__main__":
    main()
