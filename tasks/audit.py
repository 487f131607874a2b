"""Audit triage: judge a random sample of what it did not send, and estimate what it misses.

Each run draws, from the units the clause scorer left below its threshold, a stratified random
sample (more of it near the threshold) sized to a share of the run's cloud budget. The sample
goes to the cloud judge as audit windows, like any escalation, booked in the ledger as
'audit'. From the judge's verdicts on escalated and audited windows over a rolling window of
runs, the estimate stage computes the recall of triage per category, with a one-sided lower
confidence bound (compliance.scoring.audit), and stores it with the run.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from decimal import Decimal

from compliance.adapters.prices import ModelPrice
from compliance.context import RunContext
from compliance.rules.loader import RuleSet
from compliance.rules.matching import Hit
from compliance.scoring.audit import (
    BandTally,
    RecallEstimate,
    estimate_recall,
    plan_audit,
)
from compliance.scoring.policy import TriagePolicy
from compliance.settings import EscalationSettings, PipelineParams, TriageSettings
from compliance.store.db import Database
from compliance.textnorm import sha256_text
from tasks.escalate.costs import estimated_sync_cost
from tasks.flag import SCORER_RULE_ID, redact, scorer_rule_id
from tasks.stage import as_task

ALL_CATEGORIES = "all"


@dataclass
class AuditDraw:
    """What the audit drew this run."""

    population: int = 0
    sampled: int = 0


class AuditSettings(TriageSettings, EscalationSettings):
    """The settings the audit reads: its share and level, and the run's budget and model."""


def audit_sample_size(settings: AuditSettings, price: ModelPrice, mean_chars: float,
                      escalated_windows: int) -> int:
    """Units to audit: the audit share of the run's budget at the expected cost of a unit.

    With no per-run cap, the audit gets the same share of what triage itself sends.
    """
    if settings.audit_share == 0 or settings.escalation == "off":
        return 0
    if settings.run_budget is None:
        return math.ceil(settings.audit_share * escalated_windows / (1 - settings.audit_share))
    per_request = settings.max_spans_per_request
    request = estimated_sync_cost(price, [(int(mean_chars), False)] * per_request, per_request)
    per_unit = request / per_request
    return int(Decimal(str(settings.audit_share)) * settings.run_budget / per_unit)


def _seed(run_id: str) -> int:
    """The run's sampling seed: random across runs, reproducible for one."""
    return int(hashlib.sha256(run_id.encode()).hexdigest()[:8], 16)


def _stored_hits(db: Database, rules: RuleSet, chunk_id: int, chunk_start: int,
                 version: str) -> tuple[list[Hit], set[tuple[str, str, str]]]:
    """A chunk's stored flags as hits (chunk offsets), with the redaction their rule asks, and
    the personal data flagged anywhere in its document (redacted wherever it recurs)."""
    redact_as = {rule.id: rule.redact_as for rule in rules.rules}
    with db.cursor() as cur:
        rows = cur.execute(
            "SELECT rule_id, category, severity, action, char_start, char_end, pack, "
            "pack_version FROM flags WHERE chunk_id = ? AND rules_version = ?",
            [chunk_id, version]).fetchall()
        document = cur.execute(
            "SELECT DISTINCT rule_id, matched_text FROM flags WHERE rules_version = ? AND "
            "doc_id = (SELECT doc_id FROM chunks WHERE chunk_id = ?)",
            [version, chunk_id]).fetchall()
    hits = [Hit(rule_id, category, severity, action, start - chunk_start, end - chunk_start,
                pack, pack_version, redact_as.get(rule_id))
            for rule_id, category, severity, action, start, end, pack, pack_version in rows]
    known = {(redact_as[rule_id], value, rule_id) for rule_id, value in document
             if redact_as.get(rule_id)}
    return hits, known


def draw_audit(db: Database, run_id: str, policy: TriagePolicy, rules: RuleSet,
               settings: AuditSettings, price: ModelPrice) -> AuditDraw:
    """Queue this run's audit sample as audit windows and record its strata."""
    draw = AuditDraw()
    if policy.point is None:
        return draw
    with db.cursor() as cur:
        units = cur.execute(
            "SELECT u.chunk_id, u.doc_id, u.char_start, u.char_end, u.score, u.category "
            "FROM triage_units u WHERE u.run_id = ? AND u.triage_version = ? AND NOT u.escalated "
            "ORDER BY u.chunk_id, u.char_start", [run_id, policy.version]).fetchall()
        escalated = cur.execute(
            "SELECT count(*) FROM escalation_windows WHERE run_id = ? AND rules_version = ? "
            "AND purpose = 'triage'", [run_id, policy.version]).fetchone()[0]
    draw.population = len(units)
    if not units:
        return draw
    mean_chars = sum(end - start for _, _, start, end, _, _ in units) / len(units)
    size = audit_sample_size(settings, price, mean_chars, escalated)
    plan = plan_audit([score for *_, score, _ in units], [False] * len(units), size,
                      _seed(run_id))
    draw.sampled = len(plan.picks)
    probability = {tally.band: tally.inclusion_probability for tally in plan.tallies}
    held: tuple[int, str] | None = None  # the last document's text: picks come in unit order
    with db.transaction() as cur:
        for index in plan.picks:
            chunk_id, doc_id, start, end, _score, category = units[index]
            if held is None or held[0] != doc_id:
                # Sliced here, not with SQL substring(): that counts characters from the start
                # of the text on every call, quadratic in a long document.
                held = (doc_id, cur.execute(
                    "SELECT t.text FROM documents d JOIN texts t USING (text_sha256) "
                    "WHERE d.doc_id = ?", [doc_id]).fetchone()[0])
            chunk_start, chunk_end = cur.execute(
                "SELECT char_start, char_end FROM chunks WHERE chunk_id = ?",
                [chunk_id]).fetchone()
            text = held[1][chunk_start:chunk_end]
            hits, known = _stored_hits(db, rules, chunk_id, chunk_start, policy.version)
            if settings.redact_personal_data:
                redacted, mapping = redact(text, start - chunk_start, end - chunk_start, hits,
                                           known)
            else:
                redacted, mapping = text[start - chunk_start:end - chunk_start].strip(), []
            band = plan.band_of[index]
            window_id = cur.execute(
                """
                INSERT INTO escalation_windows (chunk_id, doc_id, rules_version, char_start,
                    char_end, rule_ids, categories, redacted_text, redacted_sha256, status,
                    run_id, purpose, audit_band, inclusion_probability)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, 'audit', ?, ?)
                RETURNING window_id
                """,
                [chunk_id, doc_id, policy.version, start, end,
                 json.dumps([scorer_rule_id(category)]),
                 json.dumps([category]), redacted, sha256_text(redacted), run_id, band,
                 probability[band]]).fetchone()[0]
            for placeholder, original, rule_id in mapping:
                cur.execute("INSERT INTO redactions VALUES (?, ?, ?, ?)",
                            [window_id, placeholder, original, rule_id])
        for tally in plan.tallies:
            cur.execute("INSERT INTO audit_bands VALUES (?, ?, ?, ?, ?)",
                        [run_id, policy.version, tally.band, tally.population, tally.sampled])
    return draw


@dataclass
class RecallReport:
    """The rolling-window recall estimate stored with a run."""

    runs_pooled: int = 0
    status: str = "no_audit"
    overall: RecallEstimate | None = None
    by_category: dict[str, RecallEstimate | None] = field(default_factory=dict)
    awaiting: int = 0


def _window_runs(db: Database, version: str, runs: int) -> list[str]:
    with db.cursor() as cur:
        return [row[0] for row in cur.execute(
            "SELECT b.run_id FROM audit_bands b JOIN runs r USING (run_id) "
            "WHERE b.triage_version = ? GROUP BY b.run_id ORDER BY max(r.started_at) DESC "
            "LIMIT ?", [version, runs]).fetchall()]


def recall_over_window(db: Database, policy: TriagePolicy, settings: TriageSettings
                       ) -> RecallReport:
    """Estimated recall per category and overall from the verdicts of the last runs."""
    report = RecallReport()
    run_ids = _window_runs(db, policy.version, settings.audit_window_runs)
    report.runs_pooled = len(run_ids)
    if not run_ids:
        return report
    categories = sorted(policy.categories)
    with db.cursor() as cur:
        windows = cur.execute(
            """
            SELECT w.run_id, w.purpose, w.audit_band, w.status = 'done' AND er.cache_key IS NOT
                   NULL AS judged, coalesce(er.is_finding, false), er.category
            FROM escalation_windows w LEFT JOIN escalation_results er USING (cache_key)
            WHERE w.rules_version = ? AND w.run_id IN (SELECT unnest(?))
              AND (w.purpose = 'audit' OR CAST(w.rule_ids AS VARCHAR) LIKE ?)
            """, [policy.version, run_ids, f'%"{SCORER_RULE_ID}.%']).fetchall()
        bands = cur.execute(
            "SELECT run_id, band, population FROM audit_bands WHERE run_id IN (SELECT unnest(?)) "
            "AND triage_version = ?", [run_ids, policy.version]).fetchall()
    report.awaiting = sum(not judged for *_, judged, _, _ in windows)

    def estimate(wanted: set[str]) -> RecallEstimate | None:
        escalated = sum(1 for _, purpose, _, judged, finding, category in windows
                        if purpose == "triage" and judged and finding and category in wanted)
        tallies = []
        for run_id, band, population in bands:
            audited = [(finding and category in wanted)
                       for r, purpose, b, judged, finding, category in windows
                       if r == run_id and purpose == "audit" and b == band and judged]
            tallies.append(BandTally(band, population, len(audited), sum(audited)))
        return estimate_recall(escalated, tallies, settings.audit_delta)

    audited = sum(1 for _, purpose, _, judged, _, _ in windows if purpose == "audit" and judged)
    if not any(judged for *_, judged, _, _ in windows):
        # Nothing judged yet (no key, escalation off, a batch still out): no estimate, rather
        # than a recall of 0 from a sample nobody has looked at.
        report.status = "awaiting_verdicts" if report.awaiting else "no_audit"
        return report
    report.overall = estimate(set(categories))
    report.by_category = {category: estimate({category}) for category in categories}
    if audited == 0:
        report.status = "awaiting_verdicts" if report.awaiting else "no_audit"
    elif report.awaiting:
        report.status = "awaiting_verdicts"
    elif (report.overall is not None and policy.point is not None
          and report.overall.lower_bound < policy.point.recall_target):
        report.status = "below_target"
    else:
        report.status = "ok"
    return report


def store_recall(db: Database, run_id: str, policy: TriagePolicy, settings: TriageSettings,
                 report: RecallReport) -> None:
    """Write the estimates (overall and per category) and the run's recall status."""
    target = policy.point.recall_target if policy.point else None
    rows = [(ALL_CATEGORIES, report.overall), *report.by_category.items()]
    with db.transaction() as cur:
        cur.execute("DELETE FROM recall_estimates WHERE run_id = ?", [run_id])
        for category, found in rows:
            cur.execute(
                "INSERT INTO recall_estimates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, policy.version, category, report.runs_pooled,
                 found.escalated_positives if found else 0, found.sampled if found else 0,
                 found.audited_positives if found else 0,
                 found.missed_estimate if found else None, found.missed_upper if found else None,
                 found.estimate if found else None, found.lower_bound if found else None,
                 settings.audit_delta, target, report.status])
        overall = report.overall
        cur.execute("UPDATE runs SET recall_estimate = ?, recall_lower_bound = ?, "
                    "recall_status = ? WHERE run_id = ?",
                    [overall.estimate if overall else None,
                     overall.lower_bound if overall else None, report.status, run_id])


@as_task("draw-audit-sample")
def draw_audit_sample(ctx: RunContext, settings: PipelineParams) -> AuditDraw:
    """Queue a budgeted random sample of unescalated units for the cloud judge."""
    draw = draw_audit(ctx.db, ctx.run_id, ctx.policy, ctx.rules, settings,
                      ctx.prices.price(settings.cloud_model))
    if draw.sampled:
        ctx.log.info("audit: %d of %d unescalated units queued for the judge", draw.sampled,
                     draw.population)
    return draw


@as_task("estimate-triage-recall")
def estimate_triage_recall(ctx: RunContext, settings: TriageSettings) -> RecallReport:
    """Estimate triage recall from escalated and audited verdicts over the last runs."""
    if ctx.policy.point is None:
        return RecallReport()
    report = recall_over_window(ctx.db, ctx.policy, settings)
    store_recall(ctx.db, ctx.run_id, ctx.policy, settings, report)
    if report.status == "below_target" and report.overall is not None:
        ctx.log.warning("triage recall lower bound %.3f is under the %.2f target (estimate "
                        "%.3f over %d runs)", report.overall.lower_bound,
                        ctx.policy.point.recall_target, report.overall.estimate,
                        report.runs_pooled)
    return report
