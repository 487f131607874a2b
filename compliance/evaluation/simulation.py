"""Triage end to end on CUAD with an oracle judge: does the audit's recall bound hold?

The cloud judge is replaced by an oracle that answers from the CUAD labels (a unit is a finding
of a category when the scorer's own training rule, `unit_targets`, calls it one), so the whole
loop runs offline: score the units, escalate those at or above the operating point's threshold,
audit a stratified sample of the rest, estimate recall with its lower bound, and compare with
the true recall, which the labels give exactly.

- `coverage_study`: how often the lower bound sits at or under the true recall (it should,
  at least 1 - delta of the time), on contracts the scorer never saw.
- `simulate_month`: a month of nightly runs on new contracts, the rolling-window estimate, and
  refits on the judge's verdicts fed back as labels.

`python -m compliance.evaluation.simulation coverage|month [--json PATH]` prints the tables.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from compliance.environment import DEV_DATA, SCORER_FILE, TRAINING_DATA
from compliance.scoring.audit import (
    BandTally,
    RecallEstimate,
    estimate_recall,
    plan_audit,
    tally_audit,
)
from compliance.scoring.model import ClauseScorer, load_scorer
from compliance.scoring.recall import RecallTally
from compliance.scoring.training import (
    PARAMS,
    LabelledText,
    feature_rules,
    read_labelled,
    rule_hits,
    train,
    unit_targets,
)
from compliance.scoring.units import cut_units

Span = tuple[int, int]
Progress = Callable[[str], None]

COVERAGE_AUDIT_SIZE = 100  # audited units per run in the coverage study
MONTH_AUDIT_SIZE = 60  # audited units per night (of ~750 not escalated)
INITIAL_SHARE = 0.4  # share of cuad_train the month's first model is trained on
# Refits (and the first fit) cross-validate on 3 folds, not 5: the curve only picks a threshold,
# and it keeps the month within its time budget on two cores.
MONTH_TRAIN_PARAMS: dict[str, Any] = {"folds": 3}


# --- the oracle judge and one run -------------------------------------------------------------


def oracle_verdicts(document: LabelledText, units: Sequence[Span],
                    categories: tuple[str, ...]) -> np.ndarray:
    """The oracle judge's 0/1 verdict per unit (rows) and category (columns), from the labels."""
    labels = [label for label in document.labels if label[0] in categories]
    return unit_targets(list(units), labels, categories, PARAMS)


@dataclass(frozen=True)
class ScoredDocument:
    """A document cut into units, each unit's best score and the oracle's verdicts."""

    document: LabelledText
    units: tuple[Span, ...]
    scores: np.ndarray  # best category score per unit
    verdicts: np.ndarray  # units x categories, 0/1


def score_documents(scorer: ClauseScorer, documents: Sequence[LabelledText],
                    categories: tuple[str, ...] | None = None) -> list[ScoredDocument]:
    """Cut, score and judge every unit of every document (judged on the scorer's categories)."""
    categories = scorer.categories if categories is None else categories
    rules = feature_rules(scorer.categories)
    scored = []
    for document in documents:
        units = cut_units(document.text)
        hits = rule_hits(document.text, rules)  # what the flag stage would have stored
        scores = scorer.score(document.text, units, hits)
        scored.append(ScoredDocument(document, tuple(units), np.asarray(scores, np.float64),
                                     oracle_verdicts(document, units, categories)))
    return scored


@dataclass(frozen=True)
class Verdict:
    """The judge's answer on one escalated or audited unit: flags per category, 1 = finding."""

    doc_id: str
    start: int
    end: int
    text: str
    flags: tuple[int, ...]  # aligned with RunOutcome.categories
    audited: bool  # True: drawn by the audit; False: escalated


@dataclass(frozen=True)
class RunOutcome:
    """What one triage run escalated and audited, the audit tallies, and the true recall.

    Positives are units the oracle calls a finding (of any category, unless by category).
    unit_recall: escalated positive units / all positive units (None without positives);
    label_recall and share: label-level recall and char share of the escalated text.
    """

    categories: tuple[str, ...]
    threshold: float
    documents: int
    units: int
    escalated: int
    audited: int
    escalated_positives: int
    positives: int
    tallies: tuple[BandTally, ...]
    by_category: dict[str, tuple[int, tuple[BandTally, ...]]]
    positives_by_category: dict[str, int]
    unit_recall: float | None
    unit_recall_by_category: dict[str, float]
    label_recall: float
    label_recall_by_category: dict[str, float]
    share: float
    labels: int
    labels_found: int
    chars: int
    escalated_chars: int
    verdicts: tuple[Verdict, ...]

    @property
    def missed_positives(self) -> int:
        """Positive units triage did not escalate."""
        return self.positives - self.escalated_positives


def run_scored(scored: Sequence[ScoredDocument], categories: tuple[str, ...], threshold: float,
               audit_size: int, seed: int) -> RunOutcome:
    """One run on scored documents: escalate, plan one audit over all of them, judge, tally."""
    if scored:
        scores = np.concatenate([d.scores for d in scored])
        verdicts = np.vstack([d.verdicts for d in scored]).astype(bool)
    else:
        scores, verdicts = np.zeros(0), np.zeros((0, len(categories)), dtype=bool)
    escalated = scores >= threshold
    plan = plan_audit(scores.tolist(), escalated.tolist(), audit_size, seed)
    picks = np.asarray(plan.picks, dtype=np.int64)
    positive = verdicts.any(axis=1)
    escalated_positives = int((positive & escalated).sum())
    tallies = tally_audit(plan, picks[positive[picks]].tolist())
    by_category: dict[str, tuple[int, tuple[BandTally, ...]]] = {}
    positives_by_category: dict[str, int] = {}
    recall_by_category: dict[str, float] = {}
    for column, category in enumerate(categories):
        found = verdicts[:, column]
        by_category[category] = (int((found & escalated).sum()),
                                 tally_audit(plan, picks[found[picks]].tolist()))
        positives_by_category[category] = int(found.sum())
        if found.any():
            recall_by_category[category] = by_category[category][0] / int(found.sum())
    labels = RecallTally()
    offset = 0
    for document in scored:
        rows = escalated[offset:offset + len(document.units)]
        labels.add(len(document.document.text),
                   [span for span, chosen in zip(document.units, rows, strict=True) if chosen],
                   [label for label in document.document.labels if label[0] in categories])
        offset += len(document.units)
    audited = set(plan.picks)
    judged = sorted(audited.union(np.flatnonzero(escalated).tolist()))
    return RunOutcome(
        categories=categories, threshold=float(threshold), documents=len(scored),
        units=len(scores), escalated=int(escalated.sum()), audited=len(picks),
        escalated_positives=escalated_positives, positives=int(positive.sum()), tallies=tallies,
        by_category=by_category, positives_by_category=positives_by_category,
        unit_recall=escalated_positives / int(positive.sum()) if positive.any() else None,
        unit_recall_by_category=recall_by_category, label_recall=labels.recall,
        label_recall_by_category=labels.recall_by_category(), share=labels.share,
        labels=sum(labels.labels.values()), labels_found=sum(labels.found.values()),
        chars=labels.total_chars, escalated_chars=labels.selected_chars,
        verdicts=_verdicts(scored, verdicts, judged, audited))


def _verdicts(scored: Sequence[ScoredDocument], verdicts: np.ndarray, judged: list[int],
              audited: set[int]) -> tuple[Verdict, ...]:
    """The judged units (indices over all units of the run) as Verdicts."""
    starts = np.cumsum([0, *(len(d.units) for d in scored)])
    out = []
    for index in judged:
        number = int(np.searchsorted(starts, index, side="right")) - 1
        document = scored[number]
        start, end = document.units[index - int(starts[number])]
        out.append(Verdict(document.document.doc_id, start, end, document.document.text[start:end],
                           tuple(int(flag) for flag in verdicts[index]), index in audited))
    return tuple(out)


def simulate_run(scorer: ClauseScorer, documents: Sequence[LabelledText], threshold: float,
                 audit_size: int, seed: int) -> RunOutcome:
    """One triage run over documents with the oracle as judge (audit sample drawn from seed)."""
    return run_scored(score_documents(scorer, documents), scorer.categories, threshold,
                      audit_size, seed)


def window_estimate(outcomes: Sequence[RunOutcome], delta: float,
                    category: str | None = None) -> RecallEstimate | None:
    """The recall estimate of runs pooled as one window (one category, or any when None)."""
    if category is None:
        found = sum(outcome.escalated_positives for outcome in outcomes)
        tallies = [tally for outcome in outcomes for tally in outcome.tallies]
    else:
        found = sum(outcome.by_category[category][0] for outcome in outcomes)
        tallies = [tally for outcome in outcomes for tally in outcome.by_category[category][1]]
    return estimate_recall(found, tallies, delta)


def pooled_unit_recall(outcomes: Sequence[RunOutcome], category: str | None = None
                       ) -> float | None:
    """True unit-level recall of runs pooled (one category, or any when None)."""
    if category is None:
        found = sum(outcome.escalated_positives for outcome in outcomes)
        total = sum(outcome.positives for outcome in outcomes)
    else:
        found = sum(outcome.by_category[category][0] for outcome in outcomes)
        total = sum(outcome.positives_by_category[category] for outcome in outcomes)
    return found / total if total else None


# --- coverage of the lower bound --------------------------------------------------------------


@dataclass(frozen=True)
class CoverageRow:
    """One seed of the coverage study: a window of runs, its estimate and its true recall."""

    seed: int
    runs: int
    documents: int
    positives: int
    escalated_positives: int
    sampled: int
    audited_positives: int
    true_recall: float | None
    estimate: float | None
    lower_bound: float | None
    covered: bool | None  # true recall >= lower bound; None when recall is undefined
    share: float
    label_recall: float
    covered_by_category: dict[str, bool]


@dataclass(frozen=True)
class CoverageResult:
    """How often the lower bound held, and the mean estimate, bound and true recall."""

    scorer_version: str
    recall_target: float
    threshold: float
    documents: int
    audit_size: int
    delta: float
    runs_per_window: int
    seeds: int
    coverage: float
    mean_estimate: float
    mean_lower_bound: float
    mean_true_recall: float
    min_lower_bound: float
    mean_share: float
    mean_label_recall: float
    coverage_by_category: dict[str, float]
    rows: tuple[CoverageRow, ...]


def child_seed(seed: int, index: int) -> int:
    """A seed for the index-th draw under seed (independent streams, reproducible)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def coverage_study(scorer: ClauseScorer, documents: Sequence[LabelledText], seeds: Sequence[int],
                   audit_size: int, delta: float, runs_per_window: int = 1,
                   recall_target: float = 0.95) -> CoverageResult:
    """Per seed, a window of runs (disjoint random document subsets when several): bound held?"""
    if runs_per_window < 1 or runs_per_window > len(documents):
        raise ValueError(f"runs_per_window must lie in [1, {len(documents)}]")
    threshold = scorer.operating_point(recall_target).threshold
    scored = score_documents(scorer, documents)
    categories = scorer.categories
    rows = []
    for seed in seeds:
        if runs_per_window == 1:
            groups = [np.arange(len(scored))]
            audit_seeds = [seed]
        else:
            order = np.random.default_rng(seed).permutation(len(scored))
            groups = np.array_split(order, runs_per_window)
            audit_seeds = [child_seed(seed, k) for k in range(runs_per_window)]
        outcomes = [run_scored([scored[i] for i in group], categories, threshold, audit_size,
                               run_seed)
                    for group, run_seed in zip(groups, audit_seeds, strict=True)]
        rows.append(_coverage_row(seed, outcomes, delta))
    defined = [row for row in rows if row.covered is not None]
    by_category = {}
    for category in categories:
        held = [row.covered_by_category[category] for row in rows
                if category in row.covered_by_category]
        if held:
            by_category[category] = float(np.mean(held))
    return CoverageResult(
        scorer_version=scorer.version, recall_target=recall_target, threshold=threshold,
        documents=len(documents), audit_size=audit_size, delta=delta,
        runs_per_window=runs_per_window, seeds=len(rows),
        coverage=_mean([float(bool(row.covered)) for row in defined]),
        mean_estimate=_mean([row.estimate for row in defined]),
        mean_lower_bound=_mean([row.lower_bound for row in defined]),
        mean_true_recall=_mean([row.true_recall for row in defined]),
        min_lower_bound=min((row.lower_bound for row in defined if row.lower_bound is not None),
                            default=float("nan")),
        mean_share=_mean([row.share for row in rows]),
        mean_label_recall=_mean([row.label_recall for row in rows]),
        coverage_by_category=by_category, rows=tuple(rows))


def _coverage_row(seed: int, outcomes: Sequence[RunOutcome], delta: float) -> CoverageRow:
    """One seed's window: pooled estimate against pooled true recall, overall and by category."""
    estimate = window_estimate(outcomes, delta)
    true_recall = pooled_unit_recall(outcomes)
    covered = (None if estimate is None or true_recall is None
               else true_recall >= estimate.lower_bound)
    by_category = {}
    for category in outcomes[0].categories:
        category_estimate = window_estimate(outcomes, delta, category)
        category_recall = pooled_unit_recall(outcomes, category)
        if category_estimate is not None and category_recall is not None:
            by_category[category] = category_recall >= category_estimate.lower_bound
    return CoverageRow(
        seed=seed, runs=len(outcomes), documents=sum(o.documents for o in outcomes),
        positives=sum(o.positives for o in outcomes),
        escalated_positives=sum(o.escalated_positives for o in outcomes),
        sampled=sum(o.audited for o in outcomes),
        audited_positives=sum(t.positives for o in outcomes for t in o.tallies),
        true_recall=true_recall, estimate=None if estimate is None else estimate.estimate,
        lower_bound=None if estimate is None else estimate.lower_bound, covered=covered,
        share=sum(o.escalated_chars for o in outcomes) / max(1, sum(o.chars for o in outcomes)),
        label_recall=(sum(o.labels_found for o in outcomes)
                      / max(1, sum(o.labels for o in outcomes))),
        covered_by_category=by_category)


def _mean(values: Sequence[float | None]) -> float:
    """Mean of the values that are not None (nan when none)."""
    kept = [value for value in values if value is not None]
    return float(np.mean(kept)) if kept else float("nan")


# --- a month of nightly runs with feedback and refits -----------------------------------------


@dataclass(frozen=True)
class NightRow:
    """One night of the month: the run, the window's estimate and the model that ran it.

    unit_recall and label_recall are tonight's true recalls; window_true_recall pools the
    window's nights, which estimate and lower_bound estimate. refit: the model was refit on the
    feedback before tonight's run.
    """

    night: int
    documents: int
    units: int
    escalated: int
    audited: int
    share: float
    label_recall: float
    unit_recall: float | None
    window_nights: int
    window_true_recall: float | None
    estimate: float | None
    lower_bound: float | None
    threshold: float
    expected_recall: float
    model_version: str
    refit: bool
    feedback_units: int
    train_seconds: float


def feedback_documents(verdicts: Sequence[Verdict], categories: tuple[str, ...]
                       ) -> list[LabelledText]:
    """Judged units as small training documents, labelled whole with each positive category."""
    return [LabelledText(f"feedback/{v.doc_id}/{v.start}-{v.end}", v.text,
                         tuple((category, 0, len(v.text))
                               for category, flag in zip(categories, v.flags, strict=True) if flag))
            for v in verdicts]


def training_hash(initial: Sequence[LabelledText], feedback: Sequence[Verdict]) -> str:
    """sha256 naming a training set: the initial doc ids and the feedback units and verdicts."""
    payload = {"documents": [d.doc_id for d in initial],
               "feedback": [[v.doc_id, v.start, v.end, list(v.flags)] for v in feedback]}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def split_month(documents: Sequence[LabelledText], nights: int, docs_per_night: int | None,
                seed: int, initial_share: float = INITIAL_SHARE
                ) -> tuple[list[LabelledText], list[list[LabelledText]]]:
    """The initial training set and each night's new contracts (seeded shuffle, disjoint)."""
    order = np.random.default_rng(seed).permutation(len(documents))
    shuffled = [documents[int(i)] for i in order]
    initial_count = round(initial_share * len(documents))
    initial, arriving = shuffled[:initial_count], shuffled[initial_count:]
    per_night = docs_per_night if docs_per_night is not None else len(arriving) // nights
    if per_night < 1 or per_night * nights > len(arriving):
        raise ValueError(f"{len(arriving)} contracts cannot give {nights} nights of "
                         f"{per_night} new ones")
    return initial, [arriving[n * per_night:(n + 1) * per_night] for n in range(nights)]


def simulate_month(nights: int = 30, docs_per_night: int | None = None, seed: int = 0,
                   recall_target: float = 0.95, audit_size: int = MONTH_AUDIT_SIZE,
                   delta: float = 0.05, window: int = 7, refit_every: int = 7,
                   initial_share: float = INITIAL_SHARE,
                   train_params: dict[str, Any] | None = None,
                   documents: Sequence[LabelledText] | None = None,
                   progress: Progress | None = None) -> list[NightRow]:
    """A month of nightly runs on unseen contracts: window estimates, feedback and refits."""
    documents = read_labelled(TRAINING_DATA) if documents is None else documents
    params = MONTH_TRAIN_PARAMS if train_params is None else train_params
    initial, batches = split_month(documents, nights, docs_per_night, seed, initial_share)
    started = time.perf_counter()
    scorer = train(list(initial), training_hash(initial, []), params)
    train_seconds = time.perf_counter() - started
    categories = scorer.categories  # the judge's categories, fixed for the month
    feedback: list[Verdict] = []
    outcomes: list[RunOutcome] = []
    rows: list[NightRow] = []
    for night, batch in enumerate(batches, 1):
        refit = night > 1 and refit_every > 0 and (night - 1) % refit_every == 0
        if refit:
            started = time.perf_counter()
            scorer = train(list(initial), training_hash(initial, feedback), params,
                           extra=feedback_documents(feedback, categories))
            train_seconds = time.perf_counter() - started
        point = scorer.operating_point(recall_target)
        outcome = run_scored(score_documents(scorer, batch, categories), categories,
                             point.threshold, audit_size, child_seed(seed, night))
        outcomes.append(outcome)
        feedback.extend(outcome.verdicts)
        recent = outcomes[-window:]
        estimate = window_estimate(recent, delta)
        rows.append(NightRow(
            night=night, documents=outcome.documents, units=outcome.units,
            escalated=outcome.escalated, audited=outcome.audited, share=outcome.share,
            label_recall=outcome.label_recall, unit_recall=outcome.unit_recall,
            window_nights=len(recent), window_true_recall=pooled_unit_recall(recent),
            estimate=None if estimate is None else estimate.estimate,
            lower_bound=None if estimate is None else estimate.lower_bound,
            threshold=point.threshold, expected_recall=point.expected_recall,
            model_version=scorer.version, refit=refit or night == 1,
            feedback_units=len(feedback) - len(outcome.verdicts),
            train_seconds=train_seconds if refit or night == 1 else 0.0))
        if progress is not None:
            progress(f"night {night}: {_row_line(rows[-1])}")
    return rows


def _row_line(row: NightRow) -> str:
    """A short progress line for one night."""
    return (f"units {row.units}, escalated {row.escalated}, recall {_fmt(row.unit_recall)}, "
            f"window estimate {_fmt(row.estimate)} >= {_fmt(row.lower_bound)}, "
            f"model {row.model_version}")


# --- tables and command line ------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 3) -> str:
    """A number for a table ('-' for none)."""
    return "-" if value is None or value != value else f"{value:.{digits}f}"


def format_month(rows: Sequence[NightRow]) -> str:
    """The month as a markdown table, one row per night."""
    lines = ["| night | docs | units | escalated | audited | share | label recall | "
             "unit recall | window true | window est. | window LB | threshold | model | refit |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for row in rows:
        lines.append(
            f"| {row.night} | {row.documents} | {row.units} | {row.escalated} | {row.audited} "
            f"| {_fmt(row.share)} | {_fmt(row.label_recall)} | {_fmt(row.unit_recall)} "
            f"| {_fmt(row.window_true_recall)} | {_fmt(row.estimate)} | {_fmt(row.lower_bound)} "
            f"| {row.threshold:.4f} | {row.model_version[:8]} | {'yes' if row.refit else ''} |")
    pairs = [(row.window_true_recall, row.lower_bound) for row in rows]
    held = [(true, bound) for true, bound in pairs if true is not None and bound is not None]
    below = sum(true < bound for true, bound in held)
    lines.append("")
    lines.append(f"Window lower bound above the window's true recall on {below} of {len(held)} "
                 f"nights; true unit recall < 0.95 on "
                 f"{sum(1 for r in rows if r.unit_recall is not None and r.unit_recall < 0.95)} "
                 f"of {len(rows)} nights.")
    return "\n".join(lines)


def format_coverage(result: CoverageResult) -> str:
    """The coverage study as markdown tables: the summary, then coverage by category."""
    lines = [
        f"Coverage of the recall lower bound (delta {result.delta}, target "
        f"{1 - result.delta:.2f}): scorer {result.scorer_version}, threshold "
        f"{result.threshold:.4f} (recall target {result.recall_target}), {result.documents} "
        f"documents, {result.runs_per_window} run(s) per window, {result.audit_size} audited "
        "units per run",
        "",
        "| seeds | coverage | mean estimate | mean lower bound | min lower bound | "
        "mean true recall | mean share | mean label recall |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {result.seeds} | {_fmt(result.coverage)} | {_fmt(result.mean_estimate)} "
        f"| {_fmt(result.mean_lower_bound)} | {_fmt(result.min_lower_bound)} "
        f"| {_fmt(result.mean_true_recall)} | {_fmt(result.mean_share)} "
        f"| {_fmt(result.mean_label_recall)} |",
        "",
        "| category | coverage |",
        "|---|---:|",
    ]
    lines += [f"| {category} | {_fmt(value)} |"
              for category, value in result.coverage_by_category.items()]
    return "\n".join(lines)


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays as JSON."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _write_json(path: Path | None, payload: Any) -> None:
    """Write payload as JSON when a path is given."""
    if path is not None:
        path.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    """`month` or `coverage`: run the simulation, print its tables, write --json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    coverage = commands.add_parser("coverage", help="coverage of the recall lower bound")
    coverage.add_argument("--seeds", type=int, default=200, help="number of seeds (0..n-1)")
    coverage.add_argument("--runs-per-window", type=int, nargs="+", default=[1, 3])
    coverage.add_argument("--audit-size", type=int, default=COVERAGE_AUDIT_SIZE)
    coverage.add_argument("--delta", type=float, default=0.05)
    coverage.add_argument("--recall-target", type=float, default=0.95)
    coverage.add_argument("--scorer", type=Path, default=SCORER_FILE)
    coverage.add_argument("--data", type=Path, default=DEV_DATA)
    coverage.add_argument("--json", type=Path, default=None)
    month = commands.add_parser("month", help="a month of nightly runs with refits")
    month.add_argument("--nights", type=int, default=30)
    month.add_argument("--docs-per-night", type=int, default=None)
    month.add_argument("--seed", type=int, default=0)
    month.add_argument("--recall-target", type=float, default=0.95)
    month.add_argument("--audit-size", type=int, default=MONTH_AUDIT_SIZE)
    month.add_argument("--delta", type=float, default=0.05)
    month.add_argument("--window", type=int, default=7)
    month.add_argument("--refit-every", type=int, default=7)
    month.add_argument("--initial-share", type=float, default=INITIAL_SHARE)
    month.add_argument("--folds", type=int, default=MONTH_TRAIN_PARAMS["folds"])
    month.add_argument("--data", type=Path, default=TRAINING_DATA)
    month.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.command == "coverage":
        scorer = load_scorer(args.scorer)
        documents = read_labelled(args.data)
        results = []
        for runs in args.runs_per_window:
            result = coverage_study(scorer, documents, range(args.seeds), args.audit_size,
                                    args.delta, runs, args.recall_target)
            results.append(result)
            print(format_coverage(result), end="\n\n", flush=True)
        _write_json(args.json, [asdict(result) for result in results])
    else:
        rows = simulate_month(args.nights, args.docs_per_night, args.seed, args.recall_target,
                              args.audit_size, args.delta, args.window, args.refit_every,
                              args.initial_share, {"folds": args.folds},
                              read_labelled(args.data), progress=_stderr)
        print(format_month(rows))
        _write_json(args.json, [asdict(row) for row in rows])
    print(f"\nwall time {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
