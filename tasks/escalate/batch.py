"""The batch path: requests submitted as one Message Batch, collected by this run or a later one."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from compliance import context
from compliance.adapters import cloud
from compliance.adapters.ledger import reserve_cloud_call, settle_cloud_call
from compliance.adapters.prices import PriceTable
from compliance.settings import EscalationSettings
from compliance.store.db import Database
from compliance.store.runs import refresh_spend
from compliance.vocab import WindowStatus
from tasks.escalate.cache import cache_key, store_answers
from tasks.escalate.packing import purpose_of
from tasks.escalate.queue import fail, requeue_rejected, reserve_or_defer, set_status
from tasks.escalate.result import EscalationResult


def submit_batch(db: Database, run_id: str, client: cloud.CloudClient, prices: PriceTable,
                 rules_version: str, settings: EscalationSettings, requests: list[list[cloud.Span]],
                 groups: dict[str, list[int]], guard: cloud.BudgetGuard,
                 result: EscalationResult) -> None:
    """Submit the requests that fit the budget as one Message Batch, booked to this run."""
    entries: list[dict[str, Any]] = []
    booked: list[tuple[str, int, list[int], Decimal]] = []
    for index, request in enumerate(requests):
        window_ids = [w for span in request for w in groups[span.span_id]]
        params = cloud.build_request(settings.cloud_model, request)
        bound = cloud.request_bound(prices, params, batch=True)
        if not reserve_or_defer(db, guard, bound, window_ids, result):
            continue
        custom_id = f"r{index}-{cloud.request_sha256(params)[:16]}"
        entries.append({"custom_id": custom_id, "params": params})
        with db.cursor() as cur:
            call_id = reserve_cloud_call(cur, run_id, settings.cloud_model, cloud.PROMPT_VERSION,
                                         prices.version, bound, attempt=1, is_batch=True,
                                         sent_sha256=cloud.request_sha256(params),
                                         custom_id=custom_id, purpose=purpose_of(request))
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
        for _, _, window_ids, bound in booked:
            guard.release(bound, Decimal(0))
            fail(db, window_ids, f"batch not created: {message}", result)
        result.failed_requests += 1
        result.errors.append(message)
        return
    with db.transaction() as cur:
        cur.execute("INSERT INTO batches (batch_id, run_id, model, status, request_count) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [batch.id, run_id, settings.cloud_model, batch.processing_status, len(entries)])
        for _, call_id, _, _ in booked:
            cur.execute("UPDATE llm_calls SET batch_id = ? WHERE call_id = ?", [batch.id, call_id])
    for custom_id, _, window_ids, bound in booked:
        set_status(db, window_ids, WindowStatus.SENT, batch_id=batch.id, custom_id=custom_id)
        guard.release(bound, bound)
        result.sent += len(window_ids)
    result.batches_submitted += 1
    context.report(context.ESCALATE, result.sent, result.sent)


def poll_open_batches(db: Database, client: cloud.CloudClient, prices: PriceTable,
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
            try:
                batch = client.client.messages.batches.retrieve(batch_id)
                if batch.processing_status == "ended":
                    _collect_batch(db, client, prices, rules_version, batch_id, result, log)
            except Exception as exc:  # noqa: BLE001 - the API blinked: the batch waits its turn
                message = client.scrub(f"{type(exc).__name__}: {exc}")[:300]
                log(f"batch {batch_id} could not be polled or collected ({message}): the next "
                    "run tries again")
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


def _collect_batch(db: Database, client: cloud.CloudClient, prices: PriceTable, rules_version: str,
                   batch_id: str, result: EscalationResult, log: Callable[[str], None]) -> None:
    """Settle an ended batch's entries, store their answers, and mark the batch ended."""
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
        texts: dict[str, str] = {}
        for window_id, text in window_rows:
            key = cache_key(text, model, rules_version)
            groups.setdefault(key, []).append(window_id)
            texts[key] = text
        if outcome.type == "succeeded":
            message = outcome.message
            usage = message.usage.model_dump()
            with db.cursor() as cur:
                settle_cloud_call(cur, call_id, prices, model, usage, is_batch=True,
                                  request_id=client.scrub(str(message.id))[:200], seconds=0.0)
            try:
                answers = cloud.parse_answer(message.content, list(groups))
            except cloud.MalformedAnswerError as exc:
                result.failed_requests += 1
                result.errors.append(str(exc))
                fail(db, [w for ws in groups.values() for w in ws], f"malformed answer: {exc}",
                     result)
                continue
            accepted, rejected = cloud.check_answers(answers, texts)
            result.findings += store_answers(db, "batch:" + batch_id, model, rules_version,
                                             call_id, groups, accepted)
            result.done += sum(len(groups[key]) for key in accepted)
            requeue_rejected(db, groups, rejected, result, log)
        else:
            # errored, expired or canceled entries are not billed: re-queue their windows.
            with db.cursor() as cur:
                cur.execute("UPDATE llm_calls SET status = 'failed', cost_usd = 0, error = ? "
                            "WHERE call_id = ?", [f"batch entry {outcome.type}", call_id])
            fail(db, [w for ws in groups.values() for w in ws],
                 f"batch {batch_id} entry {outcome.type}", result)
            result.failed_requests += 1
            result.errors.append(f"batch entry {outcome.type}")
    with db.cursor() as cur:
        cur.execute("UPDATE batches SET status = 'ended', ended_at = now() WHERE batch_id = ?",
                    [batch_id])
        # The run that submitted the batch may have ended (or died) with these calls reserved
        # at their bound: its stored spend follows its ledger, now settled.
        submitter = cur.execute("SELECT run_id FROM batches WHERE batch_id = ?",
                                [batch_id]).fetchone()
        if submitter is not None:
            refresh_spend(cur, submitter[0])
