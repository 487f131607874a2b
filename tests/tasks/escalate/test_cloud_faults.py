"""Cloud faults against the fake API, through the real anthropic SDK: bounded retries, one ledger
row per attempt, every window closed with an answer or left waiting with a reason.

(Retries of 429/500/529, a timeout, a malformed answer, errored and expired batch entries and the
budget under random faults are in test_escalation.py.)
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from escalation_helpers import KEY, escalate_copy, sent_messages

from compliance.adapters.cloud import CloudClient
from compliance.adapters.prices import load_price_table
from compliance.rules.loader import load_rules
from compliance.settings import EscalationSettings
from compliance.store import db as database
from tasks.escalate import stage as escalate
from tasks.inventory import outstanding_work


def ledger(db, run_id: str) -> list[tuple]:
    with db.cursor() as cur:
        return cur.execute("SELECT status, error, cost_usd, bound_usd FROM llm_calls "
                           "WHERE run_id = ? ORDER BY call_id", [run_id]).fetchall()


def window_states(db) -> dict[str, int]:
    with db.cursor() as cur:
        return dict(cur.execute("SELECT status, count(*) FROM escalation_windows GROUP BY status"
                                ).fetchall())


def assert_nothing_closed_without_an_answer(db) -> None:
    """Every window is done with a stored answer, or waits (pending, sent in a batch), or is
    deferred or failed with the reason stored beside it."""
    with db.cursor() as cur:
        orphans = cur.execute(
            "SELECT count(*) FROM escalation_windows w LEFT JOIN escalation_results r "
            "USING (cache_key) WHERE w.status = 'done' AND r.cache_key IS NULL").fetchone()[0]
        unexplained = cur.execute(
            "SELECT count(*) FROM escalation_windows WHERE status IN ('failed', 'deferred') "
            "AND (status_reason IS NULL OR status_changed_at IS NULL)").fetchone()[0]
    assert orphans == 0, "a window marked done has no answer behind it"
    assert unexplained == 0, "a failed or deferred window says why"


def reasons(db, status: str) -> list[str]:
    with db.cursor() as cur:
        return [r[0] for r in cur.execute(
            "SELECT DISTINCT status_reason FROM escalation_windows WHERE status = ?",
            [status]).fetchall()]


def test_retry_after_is_honoured(triaged_db, tmp_path, fake):
    # The fake counts a retry that arrives before the 1 s it asked for.
    fake.state.faults.extend(["429:1"])
    db, db_path, run_id, result = escalate_copy(triaged_db, tmp_path, fake, cloud_concurrency=1)
    rows = ledger(db, run_id)
    assert_nothing_closed_without_an_answer(db)
    database.close_writer(db_path)
    assert fake.state.early_retries == 0
    assert rows[0][:3] == ("failed", "HTTP 429", 0) and rows[1][0] == "settled"
    assert len(rows) == len(sent_messages(fake))
    assert result.failed_requests == 0 and result.done == result.windows_total


@pytest.mark.timeout(300)  # the SDK alone would sleep the hour it is told to
def test_retry_after_beyond_the_limit_is_not_waited_for(triaged_db, tmp_path, fake):
    fake.state.faults.extend(["429:3600"])
    db, db_path, run_id, result = escalate_copy(triaged_db, tmp_path, fake, cloud_concurrency=1,
                                                max_spans_per_request=4)
    rows = ledger(db, run_id)
    states = window_states(db)
    assert_nothing_closed_without_an_answer(db)
    database.close_writer(db_path)
    assert rows[0][0] == "failed" and "retry-after 3600 s: not waited for" in rows[0][1]
    assert [r[0] for r in rows[1:]] == ["settled"] * (len(rows) - 1), "the rest went on"
    assert len(rows) == len(sent_messages(fake)), "the refused request was not retried"
    assert result.failed_requests == 1
    assert 0 < states["failed"] <= 4 and states["done"] == result.windows_total - states["failed"]
    assert "1 cloud request(s) failed" in result.note and "marked failed" in result.note


def test_lost_connections_are_retried_and_stay_reserved(triaged_db, tmp_path, fake):
    # A reset, an answer cut off mid-body and a connection closed without an answer, then
    # success: each attempt is a ledger row; the three that got no whole answer may have been
    # billed, so they keep their reservation, with what happened.
    fake.state.faults.extend(["reset", "truncated", "drop"])
    db, db_path, run_id, result = escalate_copy(triaged_db, tmp_path, fake, cloud_concurrency=1,
                                                cloud_max_retries=3)
    rows = ledger(db, run_id)
    assert_nothing_closed_without_an_answer(db)
    database.close_writer(db_path)
    assert len(rows) == len(sent_messages(fake)) and result.failed_requests == 0
    assert [r[0] for r in rows[:4]] == ["reserved"] * 3 + ["settled"]
    for _, error, cost, bound in rows[:3]:
        assert cost == bound > 0 and "no whole answer" in error
    assert result.done == result.windows_total


def test_exhausted_retries_fail_the_windows_with_a_reason(triaged_db, tmp_path, fake):
    fake.state.faults.extend(["500", "529", "truncated"])
    db, db_path, run_id, result = escalate_copy(triaged_db, tmp_path, fake, cloud_concurrency=1,
                                                cloud_max_retries=2, max_spans_per_request=4)
    rows = ledger(db, run_id)
    states = window_states(db)
    failed_because = reasons(db, "failed")
    assert_nothing_closed_without_an_answer(db)
    database.close_writer(db_path)
    # Three attempts of the first request (bounded by cloud_max_retries), then the others.
    assert [(r[0], r[1]) for r in rows[:2]] == [("failed", "HTTP 500"), ("failed", "HTTP 529")]
    assert rows[2][0] == "reserved" and "APIConnectionError" in rows[2][1]
    assert len(rows) == len(sent_messages(fake))
    assert result.failed_requests == 1 and 0 < states["failed"] <= 4
    assert result.failed_windows == states["failed"]
    assert len(failed_because) == 1 and failed_because[0].startswith("request failed: ")
    assert "APIConnectionError" in failed_because[0]
    assert "1 cloud request(s) failed (last: APIConnectionError" in result.note


def test_failed_windows_are_never_none_and_the_next_run_sends_them(triaged_db, tmp_path, fake):
    fake.state.faults.extend(["500"])
    db, db_path, run_id, result = escalate_copy(triaged_db, tmp_path, fake, cloud_concurrency=1,
                                                cloud_max_retries=0, max_spans_per_request=4)
    with db.cursor() as cur:
        waiting = cur.execute(
            "SELECT DISTINCT risk_verdict FROM document_status WHERE windows_failed > 0 "
            "AND open_findings = 0").fetchall()
        failed = cur.execute("SELECT count(*) FROM escalation_windows WHERE status = 'failed'"
                             ).fetchone()[0]
    assert failed == result.failed_windows > 0
    assert waiting in ([], [("awaiting_cloud",)]), "a document waiting on the cloud is not 'none'"
    prices = load_price_table()
    second = escalate.escalate(db, "run-next", load_rules().version,
                               EscalationSettings(escalation="sync", cloud_concurrency=1,
                                                  budget_usd=None, max_spans_per_request=4),
                               CloudClient(db, KEY, fake.base_url, prices), prices,
                               log=lambda message: None)
    states = window_states(db)
    database.close_writer(db_path)
    assert second.failed_windows == 0 and second.sent == failed
    assert states == {"done": result.windows_total}


def test_a_window_that_keeps_failing_is_not_paid_for_every_night(triaged_db, tmp_path, fake):
    """After max_window_failures failed requests a window is no longer sent; it stays failed
    with its reason, the run says so, and raising the setting sends it again."""
    fake.state.faults.extend(["500"])
    db, db_path, run_id, result = escalate_copy(triaged_db, tmp_path, fake, cloud_concurrency=1,
                                                cloud_max_retries=0, max_spans_per_request=4,
                                                max_window_failures=1)
    failed = window_states(db)["failed"]
    assert failed == result.failed_windows > 0
    prices = load_price_table()
    requests_before = len(sent_messages(fake))
    messages: list[str] = []

    def again(run: str, cap: int):
        return escalate.escalate(db, run, load_rules().version,
                                 EscalationSettings(escalation="sync", cloud_concurrency=1,
                                                    budget_usd=None, max_spans_per_request=4,
                                                    max_window_failures=cap),
                                 CloudClient(db, KEY, fake.base_url, prices), prices,
                                 log=messages.append)

    second = again("run-second", 1)
    assert second.sent == 0 and len(sent_messages(fake)) == requests_before
    assert window_states(db)["failed"] == failed
    assert all(reason.startswith("request failed: ") for reason in reasons(db, "failed"))
    assert any(f"{failed} failed window(s) not sent again" in message for message in messages)
    with db.cursor() as cur:
        assert cur.execute("SELECT DISTINCT failures FROM escalation_windows "
                           "WHERE status = 'failed'").fetchall() == [(1,)]
        # The no-change check of a re-run does not count them as work either.
        version = load_rules().version
        assert outstanding_work(cur, False, version, True, 1)["open_escalations"] == 0
        assert outstanding_work(cur, False, version, True, 2)["open_escalations"] == failed
    third = again("run-third", 2)
    states = window_states(db)
    database.close_writer(db_path)
    assert third.sent == failed and third.failed_windows == 0
    assert states == {"done": result.windows_total}


def test_key_refused_mid_run_stops_sending(triaged_db, tmp_path, fake):
    # The key is revoked after the first request: nothing more is sent, nothing is lost.
    fake.state.faults.extend(["ok", "401"])
    db, db_path, run_id, result = escalate_copy(triaged_db, tmp_path, fake, cloud_concurrency=1,
                                                max_spans_per_request=2)
    rows = ledger(db, run_id)
    states = window_states(db)
    failed_because = reasons(db, "failed")
    assert_nothing_closed_without_an_answer(db)
    with db.cursor() as cur:
        counted = dict(cur.execute(
            "SELECT status_reason LIKE 'not sent:%', max(failures) FROM escalation_windows "
            "WHERE status = 'failed' GROUP BY ALL").fetchall())
    database.close_writer(db_path)
    assert counted == {False: 1, True: 0}, "a window never sent has no failure counted"
    assert len(sent_messages(fake)) == 2 == len(rows)
    assert rows[0][0] == "settled" and rows[1][:3] == ("failed", "HTTP 401", 0)
    assert "401" in result.note
    assert 0 < states["done"] <= 2 and states["failed"] == result.windows_total - states["done"]
    assert any(reason.startswith("request failed: AuthenticationError") and "401" in reason
               for reason in failed_because)
    assert "not sent: the API rejected the key earlier in this run" in failed_because
    assert KEY not in result.note + " ".join(result.errors) + " ".join(failed_because)


@pytest.mark.parametrize("fault", ["text", "unknown_span", "malformed"])
def test_invalid_tool_output_is_rejected_and_requeued(triaged_db, tmp_path, fake, fault):
    fake.state.faults.extend([fault])
    db, db_path, run_id, result = escalate_copy(triaged_db, tmp_path, fake, cloud_concurrency=1,
                                                max_spans_per_request=4)
    rows = ledger(db, run_id)
    states = window_states(db)
    with db.cursor() as cur:
        from_first = cur.execute("SELECT count(*) FROM escalation_results WHERE call_id = "
                                 "(SELECT min(call_id) FROM llm_calls WHERE run_id = ?)",
                                 [run_id]).fetchone()[0]
    assert_nothing_closed_without_an_answer(db)
    database.close_writer(db_path)
    assert rows[0][0] == "settled" and rows[0][2] > 0, "a wrong answer is still paid for"
    assert from_first == 0, "nothing of a rejected answer is stored"
    assert result.failed_requests == 1 and 0 < states["failed"] <= 4
    assert "1 cloud request(s) failed" in result.note


def test_never_ending_batch_is_left_to_the_next_run(triaged_db, tmp_path, fake):
    fake.state.batch_polls = 0  # never ends while this run waits
    budget = Decimal("0.5")
    db, db_path, run_id, result = escalate_copy(
        triaged_db, tmp_path, fake, escalation="batch", batch_wait_seconds=2, budget_usd=budget)
    rows = ledger(db, run_id)
    states = window_states(db)
    assert result.batches_submitted == 1 and result.batches_pending == 1
    assert states == {"sent": result.windows_total}
    assert {r[0] for r in rows} == {"reserved"} and sum(r[2] for r in rows) <= budget
    # The batch ends later; the next run collects it before sending anything new.
    fake.state.batch_polls = 1
    prices = load_price_table()
    client = CloudClient(db, KEY, fake.base_url, prices)
    second = escalate.escalate(db, "run-next", load_rules().version,
                               EscalationSettings(escalation="batch", batch_wait_seconds=5),
                               client, prices, log=lambda message: None)
    rows = ledger(db, run_id)
    states = window_states(db)
    assert_nothing_closed_without_an_answer(db)
    database.close_writer(db_path)
    assert second.batches_pending == 0 and second.batches_submitted == 0
    assert states == {"done": result.windows_total}
    assert {r[0] for r in rows} == {"settled"}, "booked to the run that submitted the batch"
