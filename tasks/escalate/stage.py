"""The escalation stage and its Prefect task: the cache first, then the cloud model, in budget."""

from __future__ import annotations

import time
from collections.abc import Callable

from compliance.adapters.cloud import BudgetGuard, CloudClient, Span, build_request, load_api_key
from compliance.adapters.ledger import cloud_spend
from compliance.adapters.prices import PriceTable
from compliance.context import RunContext
from compliance.rules.masking import add_secret
from compliance.settings import EscalationSettings
from compliance.store.db import Database
from tasks.escalate.batch import poll_open_batches, submit_batch
from tasks.escalate.cache import answer_from_cache
from tasks.escalate.costs import cache_savings
from tasks.escalate.packing import pack_by_purpose
from tasks.escalate.queue import (
    given_up_windows,
    note_failures,
    open_windows,
    refresh_chunk_statuses,
)
from tasks.escalate.result import EscalationResult
from tasks.escalate.sync import send_sync
from tasks.stage import as_task


def escalate(db: Database, run_id: str, rules_version: str, settings: EscalationSettings,
             client: CloudClient | None, prices: PriceTable,
             log: Callable[[str], None] = print) -> EscalationResult:
    """Judge open windows: cached answers first, then new requests within the budget."""
    result = EscalationResult()
    with db.cursor() as cur:
        windows = open_windows(cur, rules_version, settings.max_window_failures)
        given_up = given_up_windows(cur, rules_version, settings.max_window_failures)
    if given_up:
        log(f"{given_up} failed window(s) not sent again: each failed max_window_failures "
            f"({settings.max_window_failures}) times; their reasons are in "
            "escalation_windows.status_reason (raise the setting to send them again)")
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
            windows = open_windows(cur, rules_version, settings.max_window_failures)

    groups, spans = answer_from_cache(db, windows, settings.cloud_model, rules_version, result)
    with db.cursor() as cur:
        guard = BudgetGuard(
            run_cap=settings.run_budget, day_cap=settings.daily_budget,
            run_committed=cloud_spend(cur, run_id=run_id),
            day_committed=cloud_spend(cur, day=time.strftime("%Y-%m-%d", time.gmtime())))
    # Several spans per request: the policy prompt is paid once per request.
    requests = pack_by_purpose(spans, settings.max_spans_per_request)
    if requests:
        _warn_if_prompt_uncached(requests[0][0], settings.cloud_model, prices, log)
    if settings.escalation == "batch":
        submit_batch(db, run_id, client, prices, rules_version, settings, requests, groups,
                     guard, result)
        poll_open_batches(db, client, prices, rules_version, settings, result, log, wait=True)
    else:
        send_sync(db, run_id, client, rules_version, settings, requests, groups, guard,
                  result, log)
    note_failures(result)
    refresh_chunk_statuses(db, rules_version)
    return result


def _warn_if_prompt_uncached(span: Span, model: str, prices: PriceTable,
                             log: Callable[[str], None]) -> None:
    """Say so when the policy prompt is too short for the model's prompt caching."""
    cached_prefix = len(build_request(model, [span])["system"][0]["text"])
    minimum = prices.price(model).min_cacheable_tokens
    if cached_prefix < minimum:  # bytes >= tokens, so fewer bytes means fewer tokens
        log(f"policy prompt is {cached_prefix} bytes, under the {minimum}-token minimum for "
            f"prompt caching on {model}: it will not be cached")


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
    result = escalate(ctx.db, ctx.run_id, ctx.triage_version, settings, client, ctx.prices,
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
