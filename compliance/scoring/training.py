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
from sklearn.model_selection import GroupKFold
from sklearn.svm import LinearSVC

from compliance.scoring import features, model, units
from compliance.scoring.features import count_blocks, idf_of, unit_texts, weigh
from compliance.scoring.model import ClauseScorer, CurvePoint
from compliance.scoring.recall import RecallTally
from compliance.scoring.units import cut_units

PARAMS: dict[str, Any] = {
    "C": 0.1,  # chosen on cross-validation of the training set (see docs/triage.md)
    "class_weight": "balanced",
    "folds": 5,
    "seed": 0,
    "max_weights": 250_000,  # largest weights kept; the rest are ~0 and would bloat the file
    "positive_label_share": 0.5,  # a unit holding half a clause is a positive of its category
    "positive_unit_share": 0.3,  # ... or one that is 30% clause
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


def build_dataset(documents: list[LabelledText], params: dict[str, Any]) -> Dataset:
    """Cut every document into units and count their features."""
    categories = tuple(sorted({c for d in documents for c, _, _ in d.labels}))
    all_units, own, context, targets, groups = [], [], [], [], []
    for index, document in enumerate(documents):
        spans = cut_units(document.text)
        all_units.append(spans)
        texts, around = unit_texts(document.text, spans)
        own += texts
        context += around
        targets.append(unit_targets(spans, document.labels, categories, params))
        groups += [index] * len(spans)
    return Dataset(documents, all_units, categories, count_blocks(own, context),
                   np.vstack(targets), np.asarray(groups))


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


def recall_curve(data: Dataset, scores: np.ndarray, evaluated: int) -> list[CurvePoint]:
    """Recall and share of the first `evaluated` documents at thresholds spread over the
    score distribution."""
    best = scores.max(axis=1)
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
    for module in (units, features, model):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()


def model_version(data_sha256: str, params: dict[str, Any]) -> str:
    """The scorer's version: a hash of its code, its training data and its parameters."""
    payload = json.dumps({"code": code_digest(), "data": data_sha256, "params": params},
                         sort_keys=True)
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
    curve = recall_curve(data, cross_validated_scores(data, params, len(documents)),
                         len(documents))
    idfs, coef, intercept = fit(data, np.arange(len(data.groups)), params)
    meta = {"params": params, "data_sha256": data_sha256, "documents": len(documents),
            "labels": sum(len(d.labels) for d in documents), "units": int(len(data.groups)),
            "extra_labels": len(extra)}
    return ClauseScorer(model_version(data_sha256, params), data.categories, idfs, coef,
                        intercept, curve, meta)


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
