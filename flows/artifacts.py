"""The run's artifacts on the Prefect server: a markdown report, tables and a progress bar.

Keys are stable, so the UI's Artifacts page shows each one's history across runs. The server
may be shared: every text is masked first (personal data and secrets, compliance.rules.masking).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from compliance import context
from tasks.report import RunReport
from tasks.stage import as_task

REPORT_KEY = "compliance-run-report"
COUNTS_KEY = "compliance-run-counts"
FAILED_KEY = "compliance-failed-documents"
FINDINGS_KEY = "compliance-top-findings"
PROGRESS_KEY = "compliance-progress"
# The share of the progress bar (start %, end %) that each counted stage moves through.
STAGE_SHARES = {context.PARSE: (5.0, 35.0), context.SUMMARIZE: (60.0, 95.0)}
ARTIFACT_KEYS = (REPORT_KEY, COUNTS_KEY, FAILED_KEY, FINDINGS_KEY, PROGRESS_KEY)

# (measure, column of tasks.report.run_counts) in the order the counts table shows them.
COUNT_ROWS = [
    ("documents new", "docs_new"),
    ("documents changed", "docs_changed"),
    ("documents unchanged", "docs_unchanged"),
    ("documents duplicate", "docs_duplicate"),
    ("documents failed", "docs_failed"),
    ("documents removed", "docs_removed"),
    ("chunks new", "chunks_new"),
    ("summary cache hits", "summaries_cached"),
    ("summaries done", "summaries_done"),
    ("summaries pending", "summaries_pending"),
    ("local model calls", "model_calls"),
    ("local model seconds", "local_model_seconds"),
    ("chunks flagged", "chunks_flagged"),
    ("chunks escalated", "chunks_escalated"),
    ("chunks deferred", "chunks_deferred"),
    ("escalation mode", "escalation_mode"),
    ("cloud model", "cloud_model"),
    ("cloud spend usd", "spend_usd"),
    ("counterfactual naive_new usd", "naive_new_usd"),
    ("counterfactual naive_all usd", "naive_all_usd"),
    ("saved vs naive_new", "saved_vs_naive_new"),
    ("saved vs naive_all", "saved_vs_naive_all"),
]


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: RunReport) -> str:
    """The run report as markdown."""
    c = report.counts
    lines = [
        f"# Compliance run `{report.run_id}`: {report.status}",
        "",
        f"Source `{report.source}` into `{report.db_path}`.",
        "",
    ]
    if report.error:
        lines += [f"**The run failed:** {_cell(report.error)}", "",
                  "Work stored before the failure is kept; the next run resumes from it.", ""]
    lines += [
        "## Documents",
        "",
        "| new | changed | unchanged | duplicate | failed | removed |",
        "|---|---|---|---|---|---|",
        "| " + " | ".join(str(c.get(k, "") or 0) for k in (
            "docs_new", "docs_changed", "docs_unchanged", "docs_duplicate", "docs_failed",
            "docs_removed")) + " |",
        "",
    ]
    if report.failed:
        lines += ["Failed documents:", "", "| path | status | reason |", "|---|---|---|"]
        lines += [f"| {_cell(f['path'])} | {f['status']} | {_cell(f['reason'])} |"
                  for f in report.failed]
        lines.append("")
    lines += [
        "## Chunks and summaries",
        "",
        f"- chunks new: {c.get('chunks_new') or 0}",
        f"- summaries done: {c.get('summaries_done') or 0} "
        f"({c.get('summaries_cached') or 0} from the cache), "
        f"pending: {c.get('summaries_pending') or 0}",
        f"- local model: {c.get('model_calls') or 0} calls, "
        f"{float(c.get('local_model_seconds') or 0):.1f} s",
        "",
        "## Triage and escalation",
        "",
        f"- flagged: {c.get('chunks_flagged') or 0} chunks; escalated: "
        f"{c.get('chunks_escalated') or 0}; deferred: {c.get('chunks_deferred') or 0} "
        f"(mode {c.get('escalation_mode') or 'off'}, {c.get('cloud_model') or '-'})",
        f"- cloud spend: ${float(c.get('spend_usd') or 0):.6f}",
    ]
    naive_new, naive_all = c.get("naive_new_usd"), c.get("naive_all_usd")
    if naive_new not in (None, ""):
        saved_new, saved_all = c.get("saved_vs_naive_new"), c.get("saved_vs_naive_all")
        savings = ("no savings claimed: flagged text was not escalated"
                   if saved_new in (None, "") else
                   f"saved {float(saved_new):.1%} vs naive_new, {float(saved_all or 0):.1%} "
                   "vs naive_all")
        lines.append(f"- counterfactuals: naive_new ${float(naive_new):.6f}, naive_all "
                     f"${float(naive_all or 0):.6f} ({savings})")
    if report.note:
        lines.append(f"- note: {_cell(report.note)}")
    lines += ["", "## Top findings", ""]
    if report.findings:
        lines += ["| severity | category | path | rationale | quote |", "|---|---|---|---|---|"]
        lines += [f"| {f['severity']} | {_cell(f['category'])} | {_cell(f['path'])} | "
                  f"{_cell(f['rationale'])} | {_cell(f['quote'])} |" for f in report.findings]
    else:
        lines.append("No findings from the cloud model in the current documents.")
    if report.summary:
        lines += ["", "## Printed summary", "", "```", report.summary, "```"]
    return "\n".join(lines) + "\n"


def publish_report(report: RunReport) -> None:
    """Create the report and table artifacts of the current flow run."""
    create_markdown_artifact(render_markdown(report), key=REPORT_KEY,
                             description=f"Compliance run {report.run_id}: {report.status}")
    create_table_artifact(
        [{"measure": measure, "value": report.counts.get(column, "")}
         for measure, column in COUNT_ROWS],
        key=COUNTS_KEY, description=f"Counts, spend and savings of run {report.run_id}")
    create_table_artifact(
        report.failed or [{"path": "", "status": "", "reason": "no failed documents"}],
        key=FAILED_KEY, description=f"Documents run {report.run_id} could not read, and why")
    create_table_artifact(
        report.findings or [{"path": "", "category": "", "severity": "", "rationale":
                             "no findings", "quote": ""}],
        key=FINDINGS_KEY, description="The cloud model's most severe findings in the "
        "current documents of the source folder")


@as_task("publish-report", retries=True)
def publish_run_report(report: RunReport) -> None:
    """Publish the run's markdown report and tables as artifacts (retried: the API may blink)."""
    publish_report(report)


class RunProgress:
    """The run's progress artifact, moved at each stage and during summaries (best effort)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.percent = 0.0
        self._published = -1.0
        self._artifact: UUID | None = None
        try:
            self._artifact = create_progress_artifact(
                0.0, key=PROGRESS_KEY, description=f"Progress of compliance run {run_id}")
            self._published = 0.0
        except Exception as exc:  # a progress bar never fails a run
            get_run_logger().warning("progress artifact unavailable: %s", exc)

    def set(self, percent: float) -> None:
        """Move the bar (at most about once a percent point; never backwards)."""
        self.percent = max(self.percent, min(100.0, percent))
        if self._artifact is None or (self.percent - self._published < 1.0
                                      and self.percent < 100.0):
            return
        try:
            update_progress_artifact(self._artifact, round(self.percent, 1))
            self._published = self.percent
        except Exception as exc:
            get_run_logger().warning("progress artifact not updated: %s", exc)

    def follow(self, stage: str, done: int, total: int) -> None:
        """Move the bar through a stage's share of the run as its counts come in."""
        if stage in STAGE_SHARES:
            self.between(*STAGE_SHARES[stage])(done, total)

    def between(self, start: float, end: float) -> Callable[[int, int], None]:
        """A callback (done, total) that moves the bar from start to end."""
        def tick(done: int, total: int) -> None:
            self.set(start + (end - start) * (done / total if total else 1.0))
        return tick
