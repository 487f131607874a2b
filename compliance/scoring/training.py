"""Train the clause scorer on labelled contracts: grouped cross-validation, then one final fit.

`python -m compliance.scoring.training` (what `make train` runs) rebuilds the shipped model
from the training set. The same data, code and parameters give the same bytes: hashed features,
a fixed fold split (folds grouped by document, so no contract is scored by a model that saw
it) and liblinear with a fixed seed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.svm import LinearSVC

from compliance.rules.loader import load_rules
from compliance.rules.matching import Hit, Rule
from compliance.scoring import features, model, stacking, units
from compliance.scoring.features import count_blocks, idf_of, unit_texts, weigh
from compliance.scoring.model import ClauseScorer, CurvePoint, StageTwo
from compliance.scoring.recall import RecallTally
from compliance.scoring.stacking import document_features, rule_features
from compliance.scoring.units import cut_units

PARAMS: dict[str, Any] = {
    "C": 0.05,  # chosen on cross-validation of the training set (README, "Scorers tried")
    "class_weight": "balanced",
    "folds": 5,
    "seed": 0,
    "max_weights": 250_000,  # largest weights kept; the rest are ~0 and would bloat the file
    "positive_label_share": 0.5,  # a unit holding half a clause is a positive of its category
    "positive_unit_share": 0.3,  # ... or one that is 30% clause
    "stage_two_C": 1.0,  # the second stage's regularisation (few inputs: barely binding)
}
CURVE_QUANTILES = np.round(np.arange(0.50, 0.995, 0.005), 3)


@dataclass(frozen=True)
class LabelledText:
    """A training document: its text and its (category, start, end) labels."""

    doc_id: str
    text: str
    labels: tuple[tuple[str, int, int], ...]


def category_key(name: str) -> str:
    """A CUAD category name as a rule category: Audit Rights becomes audit_rights."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def read_labelled(path: Path, tier: str = "primary") -> list[LabelledText]:
    """CUAD-style JSONL: {doc_id, text, labels: [{category, start, end, tier}]}."""
    documents = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            labels = tuple((category_key(item["category"]), int(item["start"]), int(item["end"]))
                           for item in record["labels"] if item.get("tier", tier) == tier)
            documents.append(LabelledText(record["doc_id"], record["text"], labels))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}:{number}: not a labelled record ({exc})") from exc
    return documents


@dataclass
class Dataset:
    """Every unit of every document, its feature counts and its per-category labels."""

    documents: list[LabelledText]
    units: list[list[tuple[int, int]]]
    categories: tuple[str, ...]
    blocks: list[sp.csr_matrix]
    targets: np.ndarray  # units x categories, 0/1
    groups: np.ndarray  # document index of each unit
    rules: np.ndarray  # units x rule categories: rule_features
    rule_categories: tuple[str, ...]

    def rows_of(self, document: int) -> slice:
        start = int(np.searchsorted(self.groups, document, side="left"))
        return slice(start, int(np.searchsorted(self.groups, document, side="right")))


def unit_targets(spans: list[tuple[int, int]], labels: Iterable[tuple[str, int, int]],
                 categories: tuple[str, ...], params: dict[str, Any]) -> np.ndarray:
    """1 where a unit holds enough of a labelled clause of the category."""
    targets = np.zeros((len(spans), len(categories)), dtype=np.int8)
    for category, start, end in labels:
        column = categories.index(category)
        for row, (a, b) in enumerate(spans):
            overlap = min(b, end) - max(a, start)
            if overlap > 0 and (overlap >= params["positive_label_share"] * (end - start)
                                or overlap >= params["positive_unit_share"] * (b - a)):
                targets[row, column] = 1
    return targets


def feature_rules(categories: Iterable[str]) -> list[Rule]:
    """The rules whose hits the scorer reads: every rule of a pack that has a rule in one of
    the scorer's categories (the contract pack), except entity rules (they need spaCy)."""
    wanted = set(categories)
    rules = load_rules().rules
    packs = {rule.pack for rule in rules if rule.category in wanted}
    return [rule for rule in rules if rule.pack in packs and not rule.entities]


def rule_hits(text: str, rules: list[Rule]) -> list[Hit]:
    """The hits of the given rules in a text (what the flag stage stores for them)."""
    return [hit for rule in rules for hit in rule.find(text, [])]


def build_dataset(documents: list[LabelledText], params: dict[str, Any],
                  rule_set: list[Rule] | None = None) -> Dataset:
    """Cut every document into units, count their features and read their rule hits."""
    categories = tuple(sorted({c for d in documents for c, _, _ in d.labels}))
    rule_set = feature_rules(categories) if rule_set is None else rule_set
    rule_categories = tuple(sorted({rule.category for rule in rule_set}))
    all_units, own, context, targets, groups, rules = [], [], [], [], [], []
    for index, document in enumerate(documents):
        spans = cut_units(document.text)
        all_units.append(spans)
        texts, around = unit_texts(document.text, spans)
        own += texts
        context += around
        targets.append(unit_targets(spans, document.labels, categories, params))
        rules.append(rule_features(spans, rule_hits(document.text, rule_set), rule_categories))
        groups += [index] * len(spans)
    return Dataset(documents, all_units, categories, count_blocks(own, context),
                   np.vstack(targets), np.asarray(groups), np.vstack(rules), rule_categories)


def fit(data: Dataset, rows: np.ndarray, params: dict[str, Any]
        ) -> tuple[list[np.ndarray], sp.csr_matrix, np.ndarray]:
    """IDF weights and one linear SVM per category, fitted on the given units."""
    idfs = [idf_of(block[rows]) for block in data.blocks]
    x = weigh([block[rows] for block in data.blocks], idfs)
    coefs, intercepts = [], []
    for column in range(len(data.categories)):
        if len(set(data.targets[rows, column].tolist())) < 2:
            # No positive (or no negative) of this category among these units: it never fires.
            coefs.append(np.zeros(x.shape[1], dtype=np.float32))
            intercepts.append(-1.0)
            continue
        svm = LinearSVC(C=params["C"], class_weight=params["class_weight"],
                        random_state=params["seed"], max_iter=5000)
        svm.fit(x, data.targets[rows, column])
        coefs.append(svm.coef_[0].astype(np.float32))
        intercepts.append(svm.intercept_[0])
    coef = np.vstack(coefs)
    if coef.size > params["max_weights"]:
        cut = np.partition(np.abs(coef).ravel(), -params["max_weights"])[-params["max_weights"]]
        coef[np.abs(coef) < cut] = 0
    return idfs, sp.csr_matrix(coef), np.asarray(intercepts, dtype=np.float32)


def score_rows(data: Dataset, rows: np.ndarray, idfs: list[np.ndarray], coef: sp.csr_matrix,
               intercept: np.ndarray) -> np.ndarray:
    """Per-category scores of the given units."""
    x = weigh([block[rows] for block in data.blocks], idfs)
    return np.asarray((x @ coef.T).todense(), dtype=np.float32) + intercept


def cross_validated_scores(data: Dataset, params: dict[str, Any],
                           evaluated: int | None = None) -> np.ndarray:
    """Each unit's per-category scores from the fold model that never saw its document.

    Only the first `evaluated` documents are split into folds and scored; the rest (labels
    from verdicts and reviews) join every fold's training and are never scored: they are
    mostly units the model already ranked high, and would flatter the curve.
    """
    evaluated = len(data.documents) if evaluated is None else evaluated
    scores = np.zeros(data.targets.shape, dtype=np.float32)
    main = np.flatnonzero(data.groups < evaluated)
    always = np.flatnonzero(data.groups >= evaluated)
    folds = GroupKFold(n_splits=params["folds"])
    for train_part, test_part in folds.split(main, groups=data.groups[main]):
        train_rows = np.concatenate([main[train_part], always])
        test_rows = main[test_part]
        scores[test_rows] = score_rows(data, test_rows, *fit(data, train_rows, params))
    return scores


def stage_two_inputs(data: Dataset, scores: np.ndarray, documents: Iterable[int]
                     ) -> np.ndarray:
    """The second stage's inputs for the units of the given documents, from their scores."""
    parts = []
    for index in documents:
        rows = data.rows_of(index)
        parts.append(document_features(scores[rows], data.units[index],
                                       len(data.documents[index].text), data.rules[rows]))
    return np.vstack(parts)


def fit_stage_two(inputs: np.ndarray, targets: np.ndarray, rule_categories: tuple[str, ...],
                  params: dict[str, Any]) -> StageTwo:
    """Standardise the inputs and fit the logistic regression on 'any category' targets."""
    mean = inputs.mean(axis=0)
    scale = inputs.std(axis=0)
    scale[scale == 0] = 1
    regression = LogisticRegression(C=params["stage_two_C"], class_weight="balanced",
                                    max_iter=5000, random_state=params["seed"])
    regression.fit((inputs - mean) / scale, targets)
    return StageTwo(rule_categories, mean, scale, regression.coef_[0].astype(np.float64),
                    float(regression.intercept_[0]))


def cross_validated_stage_two(data: Dataset, scores: np.ndarray, evaluated: int,
                              params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold second-stage scores of the evaluated documents' units (folds as the first
    stage's), and the inputs of all of them for the final fit."""
    main = np.flatnonzero(data.groups < evaluated)
    inputs = stage_two_inputs(data, scores, range(evaluated))
    targets = data.targets[main].max(axis=1)
    final = np.zeros(len(data.groups), dtype=np.float32)
    folds = GroupKFold(n_splits=params["folds"])
    for train_part, test_part in folds.split(main, groups=data.groups[main]):
        two = fit_stage_two(inputs[train_part], targets[train_part], data.rule_categories,
                            params)
        final[main[test_part]] = two.score(inputs[test_part])
    return final, inputs


def selection_tally(data: Dataset, best: np.ndarray, threshold: float,
                    documents: Iterable[int]) -> RecallTally:
    """Recall and share when units whose best score reaches the threshold escalate."""
    tally = RecallTally()
    for index in documents:
        document = data.documents[index]
        scores = best[data.rows_of(index)]
        chosen = [span for span, s in zip(data.units[index], scores, strict=True)
                  if s >= threshold]
        tally.add(len(document.text), chosen, document.labels)
    return tally


def recall_curve(data: Dataset, best: np.ndarray, evaluated: int) -> list[CurvePoint]:
    """Recall and share of the first `evaluated` documents at thresholds spread over the
    distribution of their units' final scores."""
    rows = data.groups < evaluated
    points = []
    for threshold in sorted({round(float(t), 4)
                             for t in np.quantile(best[rows], CURVE_QUANTILES)}):
        tally = selection_tally(data, best, threshold, range(evaluated))
        points.append(CurvePoint(threshold, round(tally.recall, 4), round(tally.share, 4),
                                 {c: round(r, 4) for c, r in tally.recall_by_category().items()}))
    return points


def code_digest() -> str:
    """sha256 of the code that turns labelled text into a model."""
    digest = hashlib.sha256()
    for module in (units, features, model, stacking):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()


def model_version(data_sha256: str, params: dict[str, Any]) -> str:
    """The scorer's version: a hash of its code, its training data, its parameters and the
    rule packs whose hits it reads."""
    payload = json.dumps({"code": code_digest(), "data": data_sha256, "params": params,
                          "rules": load_rules().version}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def train(documents: list[LabelledText], data_sha256: str,
          params: dict[str, Any] | None = None,
          extra: list[LabelledText] | None = None) -> ClauseScorer:
    """Cross-validate on the documents (for the curve), then fit on them and the extra labels.

    `extra`: labelled snippets (verdicts, reviews) that join every fold's training but are
    never scored in cross-validation. The categories are the documents' own.
    """
    params = PARAMS | (params or {})
    extra = extra or []
    categories = {c for d in documents for c, _, _ in d.labels}
    extra = [LabelledText(d.doc_id, d.text, tuple(x for x in d.labels if x[0] in categories))
             for d in extra]
    data = build_dataset(documents + extra, params)
    evaluated = len(documents)
    first = cross_validated_scores(data, params, evaluated)
    final, inputs = cross_validated_stage_two(data, first, evaluated, params)
    curve = recall_curve(data, final, evaluated)
    idfs, coef, intercept = fit(data, np.arange(len(data.groups)), params)
    main = np.flatnonzero(data.groups < evaluated)
    two = fit_stage_two(inputs, data.targets[main].max(axis=1), data.rule_categories, params)
    meta = {"params": params, "data_sha256": data_sha256, "documents": len(documents),
            "labels": sum(len(d.labels) for d in documents), "units": int(len(data.groups)),
            "extra_labels": len(extra), "rules_version": load_rules().version}
    return ClauseScorer(model_version(data_sha256, params), data.categories, idfs, coef,
                        intercept, curve, meta, two)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> None:
    """Train on a labelled JSONL file, write the model and its manifest entry."""
    from compliance.environment import SCORER_FILE, TRAINING_DATA

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=TRAINING_DATA)
    parser.add_argument("--out", type=Path, default=SCORER_FILE)
    args = parser.parse_args(argv)
    documents = read_labelled(args.data)
    scorer = train(documents, file_sha256(args.data))
    data = scorer.to_bytes()
    args.out.write_bytes(data)
    write_manifest_entry(args.out, data, scorer, args.data)
    point = scorer.operating_point(0.95)
    print(f"{args.out}: version {scorer.version}, {len(data) / 1e6:.2f} MB; cross-validated "
          f"recall {point.expected_recall:.3f} at share {point.expected_share:.3f} "
          f"(threshold {point.threshold:.4f})")


def write_manifest_entry(path: Path, data: bytes, scorer: ClauseScorer, source: Path) -> None:
    """Record the model file in models/manifest.json under 'scorers'."""
    manifest_path = path.parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    scorers = manifest.setdefault("scorers", {"default": "clause-scorer"})
    scorers["clause-scorer"] = {
        "file": path.name, "sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data),
        "version": scorer.version, "trained_on": source.name,
        "training_data_sha256": scorer.meta["data_sha256"], "licence":
            "trained on CUAD v1 (CC BY 4.0); see ../shared/corpus/PROVENANCE.md"}
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
