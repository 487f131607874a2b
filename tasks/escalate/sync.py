"""The sync path: requests sent now, a few at a time, each reserved against the budget first."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from compliance import context
from compliance.adapters import cloud
from compliance.settings import EscalationSettings
from compliance.store.db import Database
from tasks.escalate.cache import store_answers
from tasks.escalate.packing import purpose_of
from tasks.escalate.queue import fail, requeue_rejected, reserve_or_defer
from tasks.escalate.result import EscalationResult


def send_sync(db: Database, run_id: str, client: cloud.CloudClient, rules_version: str,
              settings: EscalationSettings, requests: list[list[cloud.Span]],
              groups: dict[str, list[int]], guard: cloud.BudgetGuard, result: EscalationResult,
              log: Callable[[str], None]) -> None:
    """Send each request that fits the budget; defer the rest, re-queue the failed ones."""
    stop = {"auth": False}
    total = sum(len(groups[span.span_id]) for request in requests for span in request)
    handled = [0]
    handled_lock = threading.Lock()

    def run_one(request: list[cloud.Span]) -> None:
        window_ids = [w for span in request for w in groups[span.span_id]]
        try:
            send_one(request, window_ids)
        finally:
            with handled_lock:
                handled[0] += len(window_ids)
                context.report(context.ESCALATE, handled[0], total)

    def send_one(request: list[cloud.Span], window_ids: list[int]) -> None:
        if stop["auth"]:
            fail(db, window_ids, "not sent: the API rejected the key earlier in this run",
                 result, attempted=False)
            return
        params = cloud.build_request(settings.cloud_model, request)
        hold = client.call_bound(params) * (1 + settings.cloud_max_retries)
        if not reserve_or_defer(db, guard, hold, window_ids, result):
            return
        rows: list[int] = []
        try:
            message, rows = client.send(run_id, params, purpose_of(request))
            answers = cloud.parse_answer(message.content, [s.span_id for s in request])
            accepted, rejected = cloud.check_answers(answers, {s.span_id: s.text
                                                               for s in request})
            result.findings += store_answers(db, run_id, settings.cloud_model, rules_version,
                                             rows[-1], groups, accepted)
            closed = sum(len(groups[key]) for key in accepted)
            result.sent += len(window_ids)
            result.done += closed
            requeue_rejected(db, groups, rejected, result, log)
        except cloud.CallFailedError as exc:
            rows = exc.rows
            result.failed_requests += 1
            result.errors.append(str(exc))
            if exc.status_code in (401, 403):
                stop["auth"] = True
                result.note = "the API rejected the key (401): flagged chunks stay pending"
            fail(db, window_ids, f"request failed: {exc}", result)
        except cloud.MalformedAnswerError as exc:
            result.failed_requests += 1
            result.errors.append(str(exc))
            log(f"malformed answer, windows re-queued: {exc}")
            fail(db, window_ids, f"malformed answer: {exc}", result)
        finally:
            guard.release(hold, client.committed_cost(rows))

    context.report(context.ESCALATE, 0, total)
    with ThreadPoolExecutor(max_workers=max(1, settings.cloud_concurrency)) as pool:
        list(pool.map(run_one, requests))

