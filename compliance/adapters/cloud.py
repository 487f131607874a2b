"""Claude through the official anthropic SDK: request building, attempt booking, the budget.

Retries happen in one layer, the SDK's (`max_retries`, explicit timeout). Every HTTP attempt
the SDK makes is booked in the ledger through httpx event hooks: reserved at its upper bound
before it is sent, failed at $0 when the API answers with an error, settled from the usage
when it succeeds, and left reserved when it dies without an answer (it may have been billed).
"""

from __future__ import annotations

import email.utils
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from compliance.adapters.ledger import (
    fail_cloud_call,
    note_unsettled,
    reserve_cloud_call,
    settle_cloud_call,
)
from compliance.adapters.prices import PriceTable
from compliance.environment import PROMPTS_DIR, api_key
from compliance.store.db import Database
from compliance.textnorm import sha256_text

PROMPT_VERSION = "escalation-v2"
POLICY_FILE = PROMPTS_DIR / "escalation-policy.md"
SECRET_BLOCK_NAME = "anthropic-api-key"
# What the API adds around our bytes (tool-use system prompt, message framing), in tokens.
OVERHEAD_TOKENS = 1500
# max_tokens of a request: a true ceiling for the budget, not what an answer usually takes.
OUTPUT_TOKENS_PER_SPAN = 350
OUTPUT_TOKENS_BASE = 200
# What an answer is expected to take, for estimates made before anything is sent (evaluation,
# counterfactuals of a run that sent nothing). A finding's fields: id, category and severity
# (~10 tokens), a one-sentence rationale (~40), a quote of at most 25 words (~40), a
# one-sentence action (~25) and the JSON around them (~35). A dismissed span is its short id
# in a list. The tool-call frame is paid once per request. Runs that send book what the API
# counted instead.
ANSWER_TOKENS_PER_FINDING = 150
ANSWER_TOKENS_PER_DISMISSAL = 4
ANSWER_TOKENS_PER_REQUEST = 25
SHORT_ID_CHARS = 4
# A server asking for a longer pause than this is not waited for: the SDK would sleep as long
# as it is told (hours), holding the run. The request fails and its windows wait for the next run.
MAX_RETRY_AFTER_SECONDS = 60.0
# What a stored finding may hold: the answer is rejected, not cut, when a field is longer.
FIELD_LIMITS = {"category": 80, "rationale": 2000, "quote": 2000, "recommended_action": 1000}
CATEGORY_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_ /-]*")
FINDING_FIELDS = ("category", "severity", "rationale", "quote", "recommended_action")
# Text that talks to the model judging it rather than about the business: an attempt to steer
# the judgement. Such a span is sent in a request of its own and its dismissal is not trusted.
INSTRUCTION_LIKE = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.\n]{0,30}?\b(?:previous|prior|above|earlier"
    r"|preceding|system|your)\b[^.\n]{0,20}?\b(?:instructions?|prompts?)\b"
    r"|\b(?:report|return|record|output)\s+(?:no|zero|0)\s+(?:findings?|issues?)\b"
    r"|\bsystem\s+prompt\b"
    r"|\b(?:dismiss|ignore)\s+(?:all|every|each|these)\s+(?:spans?|flags?|findings?)\b",
    re.IGNORECASE)
INJECTION_CATEGORY = "prompt_injection"
TOOL_NAME = "record_findings"
RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "span_id": {"type": "string"},
                    "category": {"type": "string"},
                    "severity": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
                    "rationale": {"type": "string"},
                    "quote": {"type": "string"},
                    "recommended_action": {"type": "string"},
                },
                "required": ["span_id", "category", "severity", "rationale", "quote",
                             "recommended_action"],
            },
        },
        "dismissed": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["findings", "dismissed"],
}
TOOL = {
    "name": TOOL_NAME,
    "description": "Record the findings among the spans, and the ids of the spans that are not "
                   "findings.",
    "input_schema": RESULT_SCHEMA,
}


class MalformedAnswerError(ValueError):
    """The model's tool output does not match the schema or misses spans."""


def instruction_like(text: str) -> str | None:
    """The first passage of text addressed to the judging model (an injection attempt), if any."""
    match = INSTRUCTION_LIKE.search(text)
    return match.group(0) if match else None


def load_api_key(use_prefect: bool = True) -> str | None:
    """ANTHROPIC_API_KEY, else the Prefect Secret block `anthropic-api-key`, else None."""
    key = api_key()
    if key or not use_prefect:
        return key or None
    try:
        from prefect.blocks.system import Secret

        secret = Secret.load(SECRET_BLOCK_NAME, _sync=True)  # type: ignore[call-arg]
        value = secret.get()
        return str(value) if value else None
    except Exception:
        return None


def scrub(text: str, secret: str | None) -> str:
    """Remove a secret from a message before it is logged or stored."""
    if secret and secret in text:
        text = text.replace(secret, "[REDACTED]")
    return text


def policy_prompt() -> str:
    """The static policy text: the cached prefix of every request."""
    return POLICY_FILE.read_text(encoding="utf-8")


@dataclass
class Span:
    """One window of redacted text to judge."""

    span_id: str
    window_ids: list[int]
    rules: list[str]
    text: str
    # 'escalation', or 'audit' for a randomly drawn window: the ledger row's purpose. The
    # judge is not told: it judges an audit span as any other.
    purpose: str = "escalation"


def short_ids(span_ids: list[str]) -> dict[str, str]:
    """The ids a request shows the model: the shortest unique prefixes of the span keys.

    A span key is a 64-character hash the model would have to copy back for every span; a
    prefix unique within the request costs a few tokens each way and depends only on the set
    of keys, so a batch result is read back whatever order its windows are listed in.
    """
    for length in range(SHORT_ID_CHARS, 65):
        prefixes = {key: key[:length] for key in span_ids}
        if len(set(prefixes.values())) == len(prefixes):
            return prefixes
    raise ValueError("span keys repeat within one request")


def build_request(model: str, spans: list[Span]) -> dict[str, Any]:
    """Messages API parameters: cached policy first, then the spans, forced tool output."""
    ids = short_ids([s.span_id for s in spans])
    payload = [{"span_id": ids[s.span_id], "flagged_by": s.rules, "text": s.text}
               for s in spans]
    return {
        "model": model,
        "max_tokens": OUTPUT_TOKENS_BASE + OUTPUT_TOKENS_PER_SPAN * len(spans),
        "system": [{"type": "text", "text": policy_prompt(),
                    "cache_control": {"type": "ephemeral"}}],
        "tools": [TOOL],
        "tool_choice": {"type": "tool", "name": TOOL_NAME},
        "messages": [{"role": "user", "content": (
            "Judge each of these flagged spans. Spans (JSON):\n"
            + json.dumps(payload, ensure_ascii=False))}],
    }


def estimated_policy_tokens() -> Decimal:
    """Input tokens of the policy prompt and tool framing, before anything is counted by the API."""
    return Decimal(len(policy_prompt())) * Decimal("0.25") + 400


def expected_answer_tokens(spans: int, findings: int) -> int:
    """Output tokens one request's answer is expected to take (see ANSWER_TOKENS_*)."""
    return (ANSWER_TOKENS_PER_REQUEST + findings * ANSWER_TOKENS_PER_FINDING
            + (spans - findings) * ANSWER_TOKENS_PER_DISMISSAL)


def request_bytes(params: dict[str, Any]) -> int:
    """UTF-8 length of everything a request sends: the input-token bound."""
    return len(json.dumps(params, ensure_ascii=False).encode("utf-8"))


def request_sha256(params: dict[str, Any]) -> str:
    """Identity of what was sent."""
    return sha256_text(json.dumps(params, ensure_ascii=False, sort_keys=True))


def parse_answer(content: list[Any], span_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Validate the forced tool output: every span either a finding or dismissed, once.

    Returns one answer per span key; a dismissed span's answer has finding False and no
    other field.
    """
    import jsonschema

    blocks = [b for b in content if _get(b, "type") == "tool_use" and _get(b, "name") == TOOL_NAME]
    if not blocks:
        raise MalformedAnswerError("answer has no record_findings tool call")
    data = _get(blocks[0], "input")
    try:
        jsonschema.validate(data, RESULT_SCHEMA)
    except jsonschema.ValidationError as exc:
        raise MalformedAnswerError(f"tool output does not match the schema: {exc.message}"
                                   ) from None
    key_of = {short: key for key, short in short_ids(span_ids).items()}
    answered = Counter([f["span_id"] for f in data["findings"]] + list(data["dismissed"]))
    unknown = sorted(a for a in answered if a not in key_of)
    if unknown:
        raise MalformedAnswerError(f"tool output names spans that were not sent: {unknown}")
    twice = sorted(a for a, times in answered.items() if times > 1)
    if twice:
        raise MalformedAnswerError(f"tool output answers spans more than once: {twice}")
    missing = sorted(short for short in key_of if short not in answered)
    if missing:
        raise MalformedAnswerError(f"tool output has no result for spans {missing}")
    for finding in data["findings"]:
        _check_fields(finding)
    answers: dict[str, dict[str, Any]] = {
        key_of[short]: {"finding": False, **dict.fromkeys(FINDING_FIELDS)}
        for short in data["dismissed"]}
    for finding in data["findings"]:
        # Only the schema's fields are kept: anything else the model adds never reaches storage.
        answers[key_of[finding["span_id"]]] = {
            "finding": True, **{name: finding[name] for name in FINDING_FIELDS}}
    return {key: answers[key] for key in span_ids}


def _check_fields(finding: dict[str, Any]) -> None:
    """Every stored field of a finding within its limit; the category a plain name."""
    for name, limit in FIELD_LIMITS.items():
        if len(finding[name]) > limit:
            raise MalformedAnswerError(f"finding {finding['span_id']!r}: {name} is longer than "
                                       f"{limit} characters")
    if not CATEGORY_PATTERN.fullmatch(finding["category"]):
        raise MalformedAnswerError(f"finding {finding['span_id']!r}: category is not a name")


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def quote_in_span(quote: str, text: str) -> bool:
    """Whether a finding's quote occurs in the span it judged (spacing and case aside; an
    ellipsis may join excerpts that occur in order)."""
    span = _folded(text)
    position = 0
    pieces = [_folded(p).strip(" \"'“”‘’") for p in re.split(r"\.\.\.|…", quote)]
    if not any(pieces):
        return False
    for piece in filter(None, pieces):
        found = span.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def check_answers(answers: dict[str, dict[str, Any]], texts: dict[str, str]
                  ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Split answers into those stored and those rejected (span key: reason).

    A finding whose quote is not in its span is rejected: the model judged something it was
    not shown. A dismissed span that talks to the model (instruction_like) is not trusted: it
    is stored as a prompt_injection finding for a person to read, with the passage as quote.
    """
    accepted: dict[str, dict[str, Any]] = {}
    rejected: dict[str, str] = {}
    for key, answer in answers.items():
        text = texts[key]
        if answer["finding"] and not quote_in_span(answer["quote"], text):
            rejected[key] = "the finding's quote is not in the span it judged"
            continue
        passage = instruction_like(text)
        if not answer["finding"] and passage:
            answer = {"finding": True, "category": INJECTION_CATEGORY, "severity": "high",
                      "rationale": "The span addresses instructions to an automated reviewer, "
                                   "so the model's dismissal of it is not trusted.",
                      "quote": passage,
                      "recommended_action": "Read the passage and its document by hand."}
        accepted[key] = answer
    return accepted, rejected


def retry_after_seconds(headers: Any) -> float | None:
    """The pause an error answer asks for (retry-after-ms, else retry-after), if any."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) / scale
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is not None:
                return float(email.utils.mktime_tz(parsed) - time.time())
    return None


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def request_bound(prices: PriceTable, params: dict[str, Any], batch: bool = False) -> Decimal:
    """Upper bound of one attempt of a request, as a budget reserves it.

    Every byte counts as a token at the dearest input rate, plus the request overhead and the
    whole max_tokens allowance; a batch entry is priced at the batch discount. A sync request
    may be tried 1 + max_retries times by the SDK, each billed: its caller multiplies.
    """
    return prices.upper_bound(params["model"], request_bytes(params), OVERHEAD_TOKENS,
                              params["max_tokens"], batch=batch)


class CallFailedError(RuntimeError):
    """Every attempt of a call failed; carries the ledger rows it booked."""

    def __init__(self, message: str, rows: list[int], status_code: int | None) -> None:
        super().__init__(message)
        self.rows = rows
        self.status_code = status_code


class BudgetExceededError(RuntimeError):
    """Sending this request could exceed a budget cap."""


@dataclass
class BudgetGuard:
    """Per-run and per-UTC-day caps, checked against settled, reserved and in-flight money."""

    run_cap: Decimal | None
    day_cap: Decimal | None
    run_committed: Decimal
    day_committed: Decimal
    in_flight: Decimal = Decimal(0)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reserve(self, amount: Decimal) -> None:
        """Hold an amount for a request, or refuse when a cap could be exceeded."""
        with self._lock:
            run_total = self.run_committed + self.in_flight + amount
            day_total = self.day_committed + self.in_flight + amount
            if self.run_cap is not None and run_total > self.run_cap:
                raise BudgetExceededError(
                    f"run budget ${self.run_cap} left no room for ${amount}")
            if self.day_cap is not None and day_total > self.day_cap:
                raise BudgetExceededError(
                    f"daily budget ${self.day_cap} left no room for ${amount}")
            self.in_flight += amount

    def release(self, amount: Decimal, committed: Decimal) -> None:
        """Turn a hold into what the ledger now books for that request."""
        with self._lock:
            self.in_flight -= amount
            self.run_committed += committed
            self.day_committed += committed


@dataclass
class _Attempts:
    """The ledger rows of one logical call, filled in by the event hooks."""

    run_id: str
    model: str
    bound: Decimal
    sent_sha256: str
    purpose: str = "escalation"
    rows: list[int] = field(default_factory=list)
    answered: dict[int, int] = field(default_factory=dict)
    started: dict[int, float] = field(default_factory=dict)


class CloudClient:
    """The anthropic SDK client with attempt booking; one per run."""

    def __init__(self, db: Database, api_key: str, base_url: str | None, prices: PriceTable,
                 max_retries: int = 2, timeout_seconds: float = 120.0) -> None:
        import anthropic

        self.db = db
        self.prices = prices
        self.max_retries = max_retries
        self._api_key = api_key
        self._local = threading.local()
        timeout = anthropic.Timeout(timeout_seconds, connect=10.0)
        # The SDK's own httpx client class (its httpx flavour varies by SDK version).
        http_client = anthropic.DefaultHttpxClient(
            timeout=timeout,
            event_hooks={"request": [self._on_request], "response": [self._on_response]},
        )
        self.client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=timeout,
            http_client=http_client,
        )

    def scrub(self, text: str) -> str:
        """An error message without the key."""
        return scrub(text, self._api_key)

    def request_id(self, headers: Any) -> str | None:
        """The answer's request id, as stored: whatever a server or proxy put in it, not the key."""
        value = headers.get("request-id")
        return None if value is None else self.scrub(str(value))[:200]

    # --- httpx event hooks: every attempt the SDK makes passes through these -----------------
    def _on_request(self, request: Any) -> None:
        attempts: _Attempts | None = getattr(self._local, "attempts", None)
        if attempts is None or request.method != "POST":
            return
        with self.db.cursor() as cur:
            row = reserve_cloud_call(cur, attempts.run_id, attempts.model, PROMPT_VERSION,
                                     self.prices.version, attempts.bound,
                                     attempt=len(attempts.rows) + 1, is_batch=False,
                                     sent_sha256=attempts.sent_sha256,
                                     purpose=attempts.purpose)
        attempts.rows.append(row)
        attempts.started[row] = time.perf_counter()

    def _on_response(self, response: Any) -> None:
        attempts: _Attempts | None = getattr(self._local, "attempts", None)
        if attempts is None or not attempts.rows or response.request.method != "POST":
            return
        row = attempts.rows[-1]
        attempts.answered[row] = response.status_code
        if response.status_code >= 400:
            seconds = time.perf_counter() - attempts.started[row]
            error = f"HTTP {response.status_code}"
            wait = retry_after_seconds(response.headers)
            if wait is not None and wait > MAX_RETRY_AFTER_SECONDS:
                # The SDK obeys this header before its own policy: no hours-long sleep.
                response.headers["x-should-retry"] = "false"
                error += f" (retry-after {wait:g} s: not waited for)"
            with self.db.cursor() as cur:
                fail_cloud_call(cur, row, error, self.request_id(response.headers), seconds)

    # --- calls ---------------------------------------------------------------------------
    def call_bound(self, params: dict[str, Any]) -> Decimal:
        """Upper bound of one attempt of this request."""
        return request_bound(self.prices, params)

    def send(self, run_id: str, params: dict[str, Any],
             purpose: str = "escalation") -> tuple[Any, list[int]]:
        """Send one Messages request (the SDK retries); return (message, ledger rows).

        Every attempt is a ledger row under the purpose ('escalation', or 'audit').

        Raises CallFailedError when every attempt failed; attempts that died unanswered stay
        reserved in the ledger.
        """
        attempts = _Attempts(run_id, params["model"], self.call_bound(params),
                             request_sha256(params), purpose)
        self._local.attempts = attempts
        started = time.perf_counter()
        try:
            raw = self.client.messages.with_raw_response.create(**params)
            message = raw.parse()
        except Exception as exc:
            error = self.scrub(f"{type(exc).__name__}: {exc}")
            with self.db.cursor() as cur:
                for row in attempts.rows:
                    if attempts.answered.get(row, 0) < 400:  # no error answer: maybe billed
                        note_unsettled(cur, row, error, time.perf_counter() - started)
            raise CallFailedError(error, list(attempts.rows),
                                  getattr(exc, "status_code", None)) from None
        finally:
            self._local.attempts = None
        row = attempts.rows[-1]
        with self.db.cursor() as cur:
            for earlier in attempts.rows[:-1]:
                if attempts.answered.get(earlier, 0) < 400:
                    # Headers came (or nothing did) but no whole answer: the SDK tried again.
                    note_unsettled(cur, earlier, "no whole answer (timeout, cut off or lost "
                                   "connection); retried",
                                   time.perf_counter() - attempts.started[earlier])
        usage = message.usage.model_dump() if hasattr(message.usage, "model_dump") else {}
        with self.db.cursor() as cur:
            settle_cloud_call(cur, row, self.prices, params["model"], usage, is_batch=False,
                              request_id=self.request_id(raw.headers),
                              seconds=time.perf_counter() - attempts.started[row])
        return message, list(attempts.rows)

    def committed_cost(self, call_ids: list[int]) -> Decimal:
        """What the ledger books for some rows (settled actuals plus open reservations)."""
        if not call_ids:
            return Decimal(0)
        with self.db.cursor() as cur:
            row = cur.execute(
                "SELECT coalesce(sum(cost_usd), 0) FROM llm_calls "
                "WHERE call_id IN (SELECT unnest(?))", [call_ids]).fetchone()
        return Decimal(row[0])
