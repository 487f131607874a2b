"""The evaluations `compliance eval` runs: CUAD contracts and the rule-level labelled set."""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compliance.adapters.local_llm import get_local_model
from compliance.adapters.model_registry import resolve_model
from compliance.evaluation import harness, report
from compliance.evaluation.labelled import load_cuad, load_labelled_folder
from compliance.evaluation.metrics import Evaluation
from compliance.rules.loader import load_rules
from compliance.scoring.model import ClauseScorer
from compliance.scoring.policy import (
    SCORER_OFF,
    TriagePolicy,
    resolve_scorer,
    triage_policy,
)
from compliance.settings import (
    DEFAULT_CLOUD_MODEL,
    EscalationSettings,
    TriageSettings,
    default_of,
)

PRIMARY = frozenset({"primary"})
SWEEP_THRESHOLDS = (1, 2, 3, 4, 5, 6)
SWEEP_TARGETS = (0.80, 0.85, 0.90, 0.925, 0.95, 0.97)


@dataclass
class EvalOptions:
    """How to run one evaluation."""

    threshold: int = field(default_factory=lambda: default_of(TriageSettings, "triage_threshold"))
    min_window_chars: int = field(
        default_factory=lambda: default_of(TriageSettings, "min_window_chars"))
    cloud_model: str = DEFAULT_CLOUD_MODEL
    max_spans_per_request: int = field(
        default_factory=lambda: default_of(EscalationSettings, "max_spans_per_request"))
    model: str | None = None
    workdir: Path | None = None
    limit: int | None = None
    scorer: str | None = None
    recall_target: float = field(
        default_factory=lambda: default_of(TriageSettings, "recall_target"))

    _scorer: ClauseScorer | None = field(default=None, repr=False)

    def policy(self, recall_target: float | None = None) -> TriagePolicy:
        """The triage policy the evaluation's pipeline run uses (or one at another target)."""
        if self._scorer is None and self.scorer != SCORER_OFF:
            self._scorer = resolve_scorer(self.scorer)
            if self._scorer is not None:
                self._scorer.memo = {}  # one scoring per chunk, however many thresholds
        return triage_policy(load_rules().version, self._scorer,
                             self.recall_target if recall_target is None else recall_target)


def _stored_run(documents: list, options: EvalOptions, summarize: bool) -> harness.StoredRun:
    """Run the pipeline in the kept work folder, or in a temporary one, and read it back."""
    folder = (contextlib.nullcontext(str(options.workdir)) if options.workdir is not None
              else tempfile.TemporaryDirectory(prefix="compliance-eval-"))
    with folder as path:
        Path(path).mkdir(parents=True, exist_ok=True)
        db_path = harness.run_pipeline(documents, Path(path), options.model, summarize,
                                       options.scorer, options.recall_target)
        return harness.read_run(db_path, documents, options.policy().version)


def _score(run: harness.StoredRun, options: EvalOptions, threshold: int, tiers: frozenset[str],
           by_category: bool = False, rules: bool = True,
           model_signals: bool = False, policy: TriagePolicy | None = None) -> Evaluation:
    settings = TriageSettings(triage_threshold=threshold,
                              min_window_chars=options.min_window_chars)
    counter = get_local_model(resolve_model(options.model)).count_tokens
    policy = policy if policy is not None else options.policy()
    return harness.score(harness.triage(run, settings, rules, model_signals, policy), tiers,
                         counter, options.cloud_model, options.max_spans_per_request,
                         by_category)


def cross_validated_table(policy: TriagePolicy) -> tuple[str, list[dict[str, Any]]]:
    """The scorer's 5-fold grouped cross-validation on its training set, at each target."""
    scorer = policy.scorer
    if scorer is None:
        return "", []
    rows = []
    lines = ["| recall target | threshold | CV recall | CV text share | weakest category |",
             "|---|--:|--:|--:|---|"]
    for target in SWEEP_TARGETS:
        point = scorer.operating_point(target)
        curve = next(p for p in scorer.curve if p.threshold == point.threshold)
        weakest = min(curve.recall_by_category.items(), key=lambda item: item[1])
        lines.append(f"| {target:.3f} | {point.threshold:.4f} | {point.expected_recall:.3f} | "
                     f"{point.expected_share:.3f} | {weakest[0]} {weakest[1]:.3f} |")
        rows.append({"recall_target": target, "threshold": point.threshold,
                     "cv_recall": point.expected_recall, "cv_share": point.expected_share,
                     "cv_recall_by_category": curve.recall_by_category})
    meta = scorer.meta
    title = (f"Clause scorer {scorer.version}: {meta['params']['folds']}-fold cross-validation "
             f"grouped by contract on its training set ({meta['documents']} contracts, "
             f"{meta['labels']} primary labels); text share in characters")
    return title + "\n\n" + "\n".join(lines), rows


def evaluate_contracts(path: Path, options: EvalOptions, pdf: bool = False,
                       sweep: bool = False,
                       local_signals: bool = False) -> tuple[str, dict[str, Any]]:
    """Span recall of CUAD's primary categories against the share of text escalated."""
    documents = load_cuad(path, pdf=pdf)[:options.limit]
    run = _stored_run(documents, options, summarize=local_signals)
    main = _score(run, options, options.threshold, PRIMARY)
    source = "PDF copies" if pdf else "text field"
    parts = [report.markdown_table(main, f"{path.name} ({source}), primary categories, "
                                         f"recall target {options.recall_target}, rule "
                                         f"threshold {options.threshold}")]
    if run.failed:
        parts.append("Not read: " + ", ".join(f"{p} ({s}: {r})" for p, s, r in run.failed))
    result = report.as_json(main) | {
        "dataset": str(path), "source": "pdf" if pdf else "text",
        "threshold": options.threshold, "min_window_chars": options.min_window_chars,
        "cloud_model": options.cloud_model, "not_read": [list(f) for f in run.failed]}
    policy = options.policy()
    if policy.scorer is not None:
        table, rows = cross_validated_table(policy)
        parts.insert(0, table)
        result["cross_validation"] = rows
        result["scorer_version"] = policy.scorer.version
        result["recall_target"] = options.recall_target
    if sweep and policy.scorer is not None:
        points = [(f"target {t}", _score(run, options, options.threshold, PRIMARY,
                                         policy=options.policy(t))) for t in SWEEP_TARGETS]
        rules_only = TriagePolicy(load_rules().version)
        points.append(("rules alone", _score(run, options, options.threshold, PRIMARY,
                                             policy=rules_only)))
        parts.append(report.sweep_table(points, "Recall against escalation, by recall target "
                                                 "(the pipeline's run used the default)"))
        result["sweep"] = [{"point": name, "recall_primary": e.recall,
                            "token_share_escalated": e.token_share,
                            "chunk_share_escalated": e.chunk_share, "savings": e.savings,
                            "recall_by_category": {c: v.recall for c, v in e.categories.items()}}
                           for name, e in points]
    elif sweep:
        points = [(f"threshold {t}", _score(run, options, t, PRIMARY)) for t in SWEEP_THRESHOLDS]
        parts.append(report.sweep_table(points, "Recall against escalation, by triage threshold"))
        result["sweep"] = [{"threshold": t, "recall_primary": e.recall,
                            "token_share_escalated": e.token_share,
                            "chunk_share_escalated": e.chunk_share, "savings": e.savings}
                           for t, (_, e) in zip(SWEEP_THRESHOLDS, points, strict=True)]
    if local_signals:
        variants = [("rules", _score(run, options, options.threshold, PRIMARY)),
                    ("rules + local model signals",
                     _score(run, options, options.threshold, PRIMARY, model_signals=True)),
                    ("local model signals only",
                     _score(run, options, options.threshold, PRIMARY, rules=False,
                            model_signals=True))]
        parts.append(report.sweep_table(variants, "Does the local model's risk signal help?"))
        result["local_signals"] = {name: report.as_json(e) for name, e in variants}
    return "\n\n".join(parts), result


def evaluate_labelled(folder: Path, options: EvalOptions) -> tuple[str, dict[str, Any]]:
    """Recall and precision of each rule category on a folder with labels.jsonl."""
    documents = load_labelled_folder(folder)[:options.limit]
    run = _stored_run(documents, options, summarize=False)
    evaluation = _score(run, options, options.threshold, PRIMARY, by_category=True)
    table = report.markdown_table(
        evaluation, f"{folder.name}: found by a selection of the label's category", True)
    if run.failed:
        table += "\n\nNot read: " + ", ".join(f"{p} ({s}: {r})" for p, s, r in run.failed)
    return table, report.as_json(evaluation) | {"dataset": str(folder),
                                                 "not_read": [list(f) for f in run.failed]}
