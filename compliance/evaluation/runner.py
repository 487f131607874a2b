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
from compliance.settings import (
    DEFAULT_CLOUD_MODEL,
    EscalationSettings,
    TriageSettings,
    default_of,
)

PRIMARY = frozenset({"primary"})
SWEEP_THRESHOLDS = (1, 2, 3, 4, 5, 6)


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


def _stored_run(documents: list, options: EvalOptions, summarize: bool) -> harness.StoredRun:
    """Run the pipeline in the kept work folder, or in a temporary one, and read it back."""
    folder = (contextlib.nullcontext(str(options.workdir)) if options.workdir is not None
              else tempfile.TemporaryDirectory(prefix="compliance-eval-"))
    with folder as path:
        Path(path).mkdir(parents=True, exist_ok=True)
        db_path = harness.run_pipeline(documents, Path(path), options.model, summarize)
        return harness.read_run(db_path, documents)


def _score(run: harness.StoredRun, options: EvalOptions, threshold: int, tiers: frozenset[str],
           by_category: bool = False, rules: bool = True,
           model_signals: bool = False) -> Evaluation:
    settings = TriageSettings(triage_threshold=threshold,
                              min_window_chars=options.min_window_chars)
    counter = get_local_model(resolve_model(options.model)).count_tokens
    return harness.score(harness.triage(run, settings, rules, model_signals), tiers, counter,
                         options.cloud_model, options.max_spans_per_request, by_category)


def evaluate_contracts(path: Path, options: EvalOptions, pdf: bool = False,
                       sweep: bool = False,
                       local_signals: bool = False) -> tuple[str, dict[str, Any]]:
    """Span recall of CUAD's primary categories against the share of text escalated."""
    documents = load_cuad(path, pdf=pdf)[:options.limit]
    run = _stored_run(documents, options, summarize=local_signals)
    main = _score(run, options, options.threshold, PRIMARY)
    source = "PDF copies" if pdf else "text field"
    parts = [report.markdown_table(main, f"{path.name} ({source}), primary categories, "
                                         f"threshold {options.threshold}")]
    if run.failed:
        parts.append("Not read: " + ", ".join(f"{p} ({s}: {r})" for p, s, r in run.failed))
    result = report.as_json(main) | {
        "dataset": str(path), "source": "pdf" if pdf else "text",
        "threshold": options.threshold, "min_window_chars": options.min_window_chars,
        "cloud_model": options.cloud_model, "not_read": [list(f) for f in run.failed]}
    if sweep:
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
