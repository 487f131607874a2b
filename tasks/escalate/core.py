"""Send flagged, redacted windows to Claude: cache first, within budget, sync or batch."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb

from compliance import context as progress
from compliance.adapters.cloud import (
    PROMPT_VERSION,
    BudgetExceededError,
    BudgetGuard,
    CallFailedError,
    CloudClient,
    MalformedAnswerError,
    Span,
    build_request,
    load_api_key,
    parse_answer,
    request_bytes,
    request_sha256,
)
from compliance.adapters.ledger import (
    ModelPrice,
    PriceTable,
    cloud_spend,
    reserve_cloud_call,
    settle_cloud_call,
)
from compliance.context import RunContext
from compliance.rules.masking import add_secret
from compliance.settings import EscalationSettings
from compliance.store.db import Database
from compliance.textnorm import sha256_text
from compliance.vocab import readable_current
from tasks.stage import as_task

MAX_REQUEST_BYTES = 24_000


@dataclass
class EscalationResult:
    """What the escalation stage did."""

    windows_total: int = 0
    cached: int = 0
    sent: int = 0
    done: int = 0
    deferred: int = 0
    failed_requests: int = 0
    batches_submitted: int = 0
    batches_pending: int = 0
    findings: int = 0
    # (characters, was a finding) of each window answered from the cache: what it saved.
    cached_spans: list[tuple[int, bool]] = field(default_factory=list)
    note: str | None = None
    errors: list[str] = field(default_factory=list)


def cache_key(redacted_text: str, model: str, rules_version: str) -> str:
    """Same redacted text, model, prompt and rules: the same answer, no new call."""
    return sha256_text(f"{redacted_text}|{model}|{PROMPT_VERSION}|{rules_version}")


def open_windows(cur: duckdb.DuckDBPyConnection, rules_version: str) -> list[tuple]:
    """Windows still to judge: deferred ones first (they waited), then riskiest documents."""
    return cur.execute(
        """
        SELECT w.window_id, w.redacted_text, w.rule_ids
        FROM escalation_windows w JOIN documents d USING (doc_id)
        WHERE d.is_current AND w.rules_version = ? AND w.status IN ('pending', 'deferred')
        ORDER BY (w.status = 'deferred') DESC, d.risk_hint_score DESC, w.window_id
        """,
        [rules_version],
    ).fetchall()


def _apply_results(db: Database, run_id: str, model: str, rules_version: str, call_id: int,
                   groups: dict[str, list[int]], answers: dict[str, dict[str, Any]]) -> int:
    findings = 0
    with db.transaction() as cur:
        for key, answer in answers.items():
            cur.execute(
                """
                INSERT INTO escalation_results (cache_key, model, prompt_version, rules_version,
                    is_finding, category, severity, rationale, quote, recommended_action,
                    call_id, created_run_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """,
                [key, model, PROMPT_VERSION, rules_version, bool(answer["finding"]),
                 answer["category"], answer["severity"], _cut(answer["rationale"], 2000),
                 _cut(answer["quote"], 2000), _cut(answer["recommended_action"], 1000),
                 call_id, run_id],
            )
            findings += bool(answer["finding"])
            cur.execute(
                "UPDATE escalation_windows SET status = 'done', cache_key = ?, call_id = ? "
                "WHERE window_id IN (SELECT unnest(?))",
                [key, call_id, groups[key]],
            )
    return findings


def _cut(text: str | None, limit: int) -> str | None:
    """A model-written field cut to its column's length; a dismissal's absent field stays NULL."""
    return None if text is None else text[:limit]


def _set_status(db: Database, window_ids: list[int], status: str,
                batch_id: str | None = None, custom_id: str | None = None) -> None:
    if window_ids:
        with db.cursor() as cur:
            cur.execute(
                "UPDATE escalation_windows SET status = ?, batch_id = coalesce(?, batch_id), "
                "custom_id = coalesce(?, custom_id) WHERE window_id IN (SELECT unnest(?))",
                [status, batch_id, custom_id, window_ids],
            )


def refresh_chunk_statuses(db: Database, rules_version: str) -> None:
    """A chunk's escalation status summarizes its windows'."""
    with db.cursor() as cur:
        cur.execute(
            """
            UPDATE triage SET escalation_status = s.status FROM (
                SELECT chunk_id, CASE
                    WHEN bool_and(status = 'done') THEN 'done'
                    WHEN bool_or(status = 'deferred') THEN 'deferred'
                    WHEN bool_or(status = 'sent') THEN 'sent'
                    ELSE 'pending' END AS status
                FROM escalation_windows WHERE rules_version = ? GROUP BY chunk_id
            ) s
            WHERE triage.chunk_id = s.chunk_id AND triage.rules_version = ?
              AND triage.decision = 'escalate'
            """,
            [rules_version, rules_version],
        )


def _pack(spans: list[Span], model: str, max_spans: int) -> list[list[Span]]:
    """Several spans per request (the policy prompt is paid once), bounded in count and size."""
    requests: list[list[Span]] = [[]]
    for span in spans:
        current = requests[-1]
        size = sum(len(s.text.encode()) for s in current) + len(span.text.encode())
        if current and (len(current) >= max_spans or size > MAX_REQUEST_BYTES):
            requests.append([])
        requests[-1].append(span)
    return [r for r in requests if r]


def escalate(db: Database, run_id: str, rules_version: str, settings: EscalationSettings,
             client: CloudClient | None, prices: PriceTable,
             log: Callable[[str], None] = print) -> EscalationResult:
    """Judge open windows: cached answers first, then new requests within the budget."""
    result = EscalationResult()
    with db.cursor() as cur:
        windows = open_windows(cur, rules_version)
    result.windows_total = len(windows)
    if settings.escalation == "off" or client is None:
        result.note = result.note or (
            "escalation off: flagged text stays on this machine" if settings.escalation == "off"
            else "no Anthropic API key: flagged chunks stay pending")
        refresh_chunk_statuses(db, rules_version)
        return result
    if settings.escalation == "batch":
        poll_open_batches(db, client, prices, rules_version, settings, result, log, wait=False)
        with db.cursor() as cur:
            windows = open_windows(cur, rules_version)

    groups: dict[str, list[int]] = {}
    spans: list[Span] = []
    for window_id, text, rule_ids in windows:
        key = cache_key(text, settings.cloud_model, rules_version)
        with db.cursor() as cur:
            cached = cur.execute("SELECT call_id, is_finding FROM escalation_results "
                                 "WHERE cache_key = ?", [key]).fetchone()
        if cached:
            with db.cursor() as cur:
                cur.execute("UPDATE escalation_windows SET status = 'done', cache_key = ?, "
                            "call_id = ? WHERE window_id = ?", [key, cached[0], window_id])
            result.cached += 1
            result.cached_spans.append((len(text), bool(cached[1])))
            continue
        if key not in groups:
            groups[key] = []
            spans.append(Span(key, groups[key], json.loads(rule_ids), text))
        groups[key].append(window_id)

    with db.cursor() as cur:
        guard = BudgetGuard(
            run_cap=settings.run_budget, day_cap=settings.daily_budget,
            run_committed=cloud_spend(cur, run_id=run_id),
            day_committed=cloud_spend(cur, day=time.strftime("%Y-%m-%d", time.gmtime())))
    requests = _pack(spans, settings.cloud_model, settings.max_spans_per_request)
    if requests:
        first = build_request(settings.cloud_model, requests[0][:1])
        cached_prefix = len(first["system"][0]["text"])
        minimum = prices.price(settings.cloud_model).min_cacheable_tokens
        if cached_prefix < minimum:  # bytes >= tokens, so fewer bytes means fewer tokens
            log(f"policy prompt is {cached_prefix} bytes, under the {minimum}-token minimum for "
                f"prompt caching on {settings.cloud_model}: it will not be cached")
    if settings.escalation == "batch":
        submit_batch(db, run_id, client, prices, rules_version, settings, requests, groups,
                     guard, result)
        poll_open_batches(db, client, prices, rules_version, settings, result, log, wait=True)
    else:
        _send_sync(db, run_id, client, rules_version, settings, requests, groups, guard,
                   result, log)
    refresh_chunk_statuses(db, rules_version)
    return result


def _send_sync(db: Database, run_id: str, client: CloudClient, rules_version: str,
               settings: EscalationSettings, requests: list[list[Span]],
               groups: dict[str, list[int]], guard: BudgetGuard, result: EscalationResult,
               log: Callable[[str], None]) -> None:
    stop = {"auth": False}
    total = sum(len(groups[span.span_id]) for request in requests for span in request)
    handled = [0]
    handled_lock = threading.Lock()

    def run_one(request: list[Span]) -> None:
        window_ids = [w for span in request for w in groups[span.span_id]]
        try:
            send_one(request, window_ids)
        finally:
            with handled_lock:
                handled[0] += len(window_ids)
                progress.report(progress.ESCALATE, handled[0], total)

    def send_one(request: list[Span], window_ids: list[int]) -> None:
        if stop["auth"]:
            return
        params = build_request(settings.cloud_model, request)
        hold = client.call_bound(params) * (1 + settings.cloud_max_retries)
        try:
            guard.reserve(hold)
        except BudgetExceededError:
            _set_status(db, window_ids, "deferred")
            result.deferred += len(window_ids)
            return
        rows: list[int] = []
        try:
            message, rows = client.send(run_id, params)
            answers = parse_answer(message.content, [s.span_id for s in request])
            result.findings += _apply_results(db, run_id, settings.cloud_model, rules_version,
                                              rows[-1], groups, answers)
            result.sent += len(window_ids)
            result.done += len(window_ids)
        except CallFailedError as exc:
            rows = exc.rows
            result.failed_requests += 1
            result.errors.append(str(exc))
            if exc.status_code in (401, 403):
                stop["auth"] = True
                result.note = "the API rejected the key (401): flagged chunks stay pending"
            _set_status(db, window_ids, "pending")
        except MalformedAnswerError as exc:
            result.failed_requests += 1
            result.errors.append(str(exc))
            log(f"malformed answer, windows re-queued: {exc}")
            _set_status(db, window_ids, "pending")
        finally:
            guard.release(hold, client.committed_cost(rows))

    progress.report(progress.ESCALATE, 0, total)
    with ThreadPoolExecutor(max_workers=max(1, settings.cloud_concurrency)) as pool:
        list(pool.map(run_one, requests))


def submit_batch(db: Database, run_id: str, client: CloudClient, prices: PriceTable,
                 rules_version: str, settings: EscalationSettings, requests: list[list[Span]],
                 groups: dict[str, list[int]], guard: BudgetGuard,
                 result: EscalationResult) -> None:
    """Submit the requests that fit the budget as one Message Batch, booked to this run."""
    entries: list[dict[str, Any]] = []
    booked: list[tuple[str, int, list[int], Decimal]] = []
    for index, request in enumerate(requests):
        window_ids = [w for span in request for w in groups[span.span_id]]
        params = build_request(settings.cloud_model, request)
        bound = prices.upper_bound(settings.cloud_model, request_bytes(params), 1500,
                                   params["max_tokens"], batch=True)
        try:
            guard.reserve(bound)
        except BudgetExceededError:
            _set_status(db, window_ids, "deferred")
            result.deferred += len(window_ids)
            continue
        custom_id = f"r{index}-{request_sha256(params)[:16]}"
        entries.append({"custom_id": custom_id, "params": params})
        with db.cursor() as cur:
            call_id = reserve_cloud_call(cur, run_id, settings.cloud_model, PROMPT_VERSION,
                                         prices.version, bound, attempt=1, is_batch=True,
                                         sent_sha256=request_sha256(params),
                                         custom_id=custom_id)
        booked.append((custom_id, call_id, window_ids, bound))
    if not entries:
        return
    try:
        batch = client.client.messages.batches.create(requests=entries)
    except Exception as exc:
        message = client.scrub(f"{type(exc).__name__}: {exc}")
        with db.cursor() as cur:
            for _, call_id, _, _ in booked:
                cur.execute("UPDATE llm_calls SET status = 'failed', cost_usd = 0, error = ? "
                            "WHERE call_id = ?", [f"batch not created: {message}"[:500],
                                                  call_id])
        for _, _, _, bound in booked:
            guard.release(bound, Decimal(0))
        result.errors.append(message)
        return
    with db.transaction() as cur:
        cur.execute("INSERT INTO batches (batch_id, run_id, model, status, request_count) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [batch.id, run_id, settings.cloud_model, batch.processing_status, len(entries)])
        for _, call_id, _, _ in booked:
            cur.execute("UPDATE llm_calls SET batch_id = ? WHERE call_id = ?", [batch.id, call_id])
    for custom_id, _, window_ids, bound in booked:
        _set_status(db, window_ids, "sent", batch_id=batch.id, custom_id=custom_id)
        guard.release(bound, bound)
        result.sent += len(window_ids)
    result.batches_submitted += 1
    progress.report(progress.ESCALATE, result.sent, result.sent)


def poll_open_batches(db: Database, client: CloudClient, prices: PriceTable,
                      rules_version: str, settings: EscalationSettings,
                      result: EscalationResult, log: Callable[[str], None], wait: bool) -> None:
    """Collect finished batches (any run's); with wait, poll with backoff up to the limit."""
    deadline = time.monotonic() + (settings.batch_wait_seconds if wait else 0)
    delay = 1.0
    while True:
        with db.cursor() as cur:
            open_ids = [r[0] for r in cur.execute(
                "SELECT batch_id FROM batches WHERE status <> 'ended' ORDER BY submitted_at"
            ).fetchall()]
        for batch_id in open_ids:
            batch = client.client.messages.batches.retrieve(batch_id)
            if batch.processing_status == "ended":
                _collect_batch(db, client, prices, rules_version, batch_id, result)
        with db.cursor() as cur:
            still_open = cur.execute("SELECT count(*) FROM batches WHERE status <> 'ended'"
                                     ).fetchone()[0]
        if not still_open or time.monotonic() >= deadline:
            result.batches_pending = int(still_open)
            if still_open:
                log(f"{still_open} batch(es) still processing: the next run collects them")
            return
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 60.0)


def _collect_batch(db: Database, client: CloudClient, prices: PriceTable, rules_version: str,
                   batch_id: str, result: EscalationResult) -> None:
    with db.cursor() as cur:
        booked = {custom_id: (call_id, model) for custom_id, call_id, model in cur.execute(
            "SELECT custom_id, call_id, model FROM llm_calls WHERE batch_id = ? "
            "AND status = 'reserved'", [batch_id]).fetchall()}
    for entry in client.client.messages.batches.results(batch_id):
        custom_id = entry.custom_id
        if custom_id not in booked:
            continue  # already settled by an earlier collection
        call_id, model = booked[custom_id]
        outcome = entry.result
        with db.cursor() as cur:
            window_rows = cur.execute(
                "SELECT window_id, redacted_text FROM escalation_windows "
                "WHERE batch_id = ? AND custom_id = ? ORDER BY window_id",
                [batch_id, custom_id]).fetchall()
        groups: dict[str, list[int]] = {}
        for window_id, text in window_rows:
            groups.setdefault(cache_key(text, model, rules_version), []).append(window_id)
        if outcome.type == "succeeded":
            message = outcome.message
            usage = message.usage.model_dump()
            with db.cursor() as cur:
                settle_cloud_call(cur, call_id, prices, model, usage, is_batch=True,
                                  request_id=message.id, seconds=0.0)
            try:
                answers = parse_answer(message.content, list(groups))
            except MalformedAnswerError as exc:
                result.failed_requests += 1
                result.errors.append(str(exc))
                _set_status(db, [w for ws in groups.values() for w in ws], "pending")
                continue
            result.findings += _apply_results(db, "batch:" + batch_id, model, rules_version,
                                              call_id, groups, answers)
            result.done += sum(len(ws) for ws in groups.values())
        else:
            # errored, expired or canceled entries are not billed: re-queue their windows.
            with db.cursor() as cur:
                cur.execute("UPDATE llm_calls SET status = 'failed', cost_usd = 0, error = ? "
                            "WHERE call_id = ?", [f"batch entry {outcome.type}", call_id])
            _set_status(db, [w for ws in groups.values() for w in ws], "pending")
            result.failed_requests += 1
    with db.cursor() as cur:
        cur.execute("UPDATE batches SET status = 'ended', ended_at = now() WHERE batch_id = ?",
                    [batch_id])


def estimated_request_cost(price: ModelPrice, text_chars: int, spans: int, findings: int,
                           tokens_per_char: Decimal = Decimal("0.25"),
                           output_per_span: Decimal | None = None,
                           policy_tokens: Decimal | None = None) -> Decimal:
    """USD of one synchronous request carrying text_chars of spans, before it is sent.

    Input is the policy prompt plus the text at tokens_per_char; output is what was observed
    per span, or else the expected answer (a finding's fields, a dismissed span's id). No
    prompt caching and no batch discount: the price of the plain path.
    """
    from compliance.adapters.cloud import estimated_policy_tokens, expected_answer_tokens

    if policy_tokens is None:
        policy_tokens = estimated_policy_tokens()
    output = (output_per_span * spans if output_per_span is not None
              else Decimal(expected_answer_tokens(spans, findings)))
    input_tokens = policy_tokens + Decimal(text_chars) * tokens_per_char
    return (input_tokens * price.input + output * price.output) / Decimal(1_000_000)


def estimated_sync_cost(price: ModelPrice, spans: list[tuple[int, bool]],
                        max_spans: int) -> Decimal:
    """USD of sending spans (characters, is a finding) in sync mode, packed as escalate() packs."""
    total = Decimal(0)
    count = size = findings = 0
    for chars, is_finding in spans:
        if count and (count >= max_spans or size + chars > MAX_REQUEST_BYTES):
            total += estimated_request_cost(price, size, count, findings)
            count = size = findings = 0
        count += 1
        size += chars
        findings += is_finding
    if count:
        total += estimated_request_cost(price, size, count, findings)
    return total


def cache_savings(result: EscalationResult, price: ModelPrice, max_spans: int) -> Decimal:
    """USD the escalation cache saved: what its answers would have cost sent again in sync mode."""
    return estimated_sync_cost(price, result.cached_spans, max_spans).quantize(Decimal("1e-9"))


def counterfactuals(db: Database, run_id: str, source_root: str, model: str,
                    prices: PriceTable) -> tuple[Decimal, Decimal]:
    """What a pipeline without routing and reuse would have paid for this run, in USD.

    naive_new: one synchronous request per chunk of every document version new in this run;
    naive_all: the same for every current document of the source, as a nightly re-send would.
    Both use the same policy prompt, no prompt caching, no batch discount, and the output
    tokens observed per span in this run (when nothing was sent, every chunk's answer is
    priced as a finding's: the dearer answer, and such a run claims no saving anyway).
    """
    from compliance.adapters.cloud import (
        estimated_policy_tokens,
        expected_answer_tokens,
        policy_prompt,
    )

    price = prices.price(model)
    with db.cursor() as cur:
        observed = cur.execute(
            """
            SELECT sum(c.input_tokens + c.cache_write_tokens + c.cache_read_tokens),
                   sum(c.output_tokens)
            FROM llm_calls c WHERE c.run_id = ? AND c.provider = 'anthropic'
              AND c.status = 'settled'
            """,
            [run_id],
        ).fetchone()
        spans_done = cur.execute(
            "SELECT count(*) FROM escalation_windows w JOIN llm_calls c USING (call_id) "
            "WHERE c.run_id = ? AND c.status = 'settled'", [run_id]).fetchone()[0]
        sent_bytes = cur.execute(
            "SELECT sum(strlen(w.redacted_text)) FROM escalation_windows w "
            "JOIN llm_calls c USING (call_id) WHERE c.run_id = ? AND c.status = 'settled'",
            [run_id]).fetchone()[0]
        rows = cur.execute(
            f"""
            SELECT d.first_run_id = ? AS is_new, c.char_end - c.char_start AS chars
            FROM chunks c JOIN documents d USING (doc_id)
            WHERE {readable_current("d")} AND d.source_root = ?
            """,
            [run_id, source_root],
        ).fetchall()
    # Tokens per character, learned from what the API counted in this run when it can be.
    tokens_per_char = Decimal("0.25")
    policy_tokens = estimated_policy_tokens()
    if observed and observed[0] and spans_done and sent_bytes:
        tokens_per_char = max(Decimal("0.15"), min(Decimal("0.5"), Decimal(observed[0])
                                                   / Decimal(sent_bytes + len(policy_prompt()))))
    output_per_span = (Decimal(observed[1]) / spans_done if observed and observed[1]
                       and spans_done else Decimal(expected_answer_tokens(1, 1)))

    def cost(chars: int) -> Decimal:
        return estimated_request_cost(price, chars, 1, 1, tokens_per_char, output_per_span,
                                      policy_tokens)

    naive_new = sum((cost(chars) for is_new, chars in rows if is_new), Decimal(0))
    naive_all = sum((cost(chars) for _, chars in rows), Decimal(0))
    quantum = Decimal("0.000000001")
    return naive_new.quantize(quantum), naive_all.quantize(quantum)


@as_task("escalate-flagged")
def escalate_flagged(ctx: RunContext, settings: EscalationSettings) -> EscalationResult:
    """Send open, redacted windows to the cloud model within the budget."""
    client = None
    if settings.escalation != "off":
        key = load_api_key()  # the environment, else the Secret block: never a job variable
        add_secret(key)
        if key:
            client = CloudClient(ctx.db, key, settings.anthropic_base_url, ctx.prices,
                                 max_retries=settings.cloud_max_retries,
                                 timeout_seconds=settings.cloud_timeout_seconds)
    result = escalate(ctx.db, ctx.run_id, ctx.rules.version, settings, client, ctx.prices,
                      log=ctx.log.warning)
    if result.note:
        ctx.log.warning(result.note)
    price = ctx.prices.price(settings.cloud_model)
    ctx.counts.escalation_mode = settings.escalation
    ctx.counts.cloud_model = settings.cloud_model
    ctx.counts.escalation_note = result.note
    ctx.counts.escalation_windows_cached = result.cached
    ctx.counts.escalation_windows_sent = result.sent
    ctx.counts.cache_saved_usd = cache_savings(result, price, settings.max_spans_per_request)
    return result
