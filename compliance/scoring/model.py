"""The clause scorer as shipped: load it, score a document's units, pick an operating point.

The model file is one gzip stream (fixed header time, so the same model is the same bytes): a
JSON header, then the arrays it names. No pickle: loading a model file runs no code.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from compliance.rules.matching import Hit
from compliance.scoring.features import BLOCKS, HASH_FEATURES, count_blocks, unit_texts, weigh
from compliance.scoring.stacking import document_features, rule_features
from compliance.scoring.units import cut_units

FORMAT = "compliance-clause-scorer/2"


@dataclass(frozen=True)
class StageTwo:
    """The second stage: standardised document features, then a logistic regression."""

    rule_categories: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def score(self, features: np.ndarray) -> np.ndarray:
        """The log-odds that each unit holds a risk clause."""
        return ((features - self.mean) / self.scale) @ self.coef + self.intercept


@dataclass(frozen=True)
class CurvePoint:
    """Cross-validated recall and text share when units scoring >= threshold escalate."""

    threshold: float
    recall: float
    share: float
    recall_by_category: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class OperatingPoint:
    """The threshold a recall target picks, and what cross-validation expects of it."""

    recall_target: float
    threshold: float
    expected_recall: float
    expected_share: float


def operating_point(curve: list[CurvePoint], recall_target: float) -> OperatingPoint:
    """The highest threshold whose cross-validated recall reaches the target.

    A target above every point of the curve takes its lowest threshold (the best recall the
    scorer can promise).
    """
    if not 0 < recall_target <= 1:
        raise ValueError(f"recall target {recall_target} is not in (0, 1]")
    reaching = [p for p in curve if p.recall >= recall_target]
    point = (max(reaching, key=lambda p: p.threshold) if reaching
             else min(curve, key=lambda p: p.threshold))
    return OperatingPoint(recall_target, point.threshold, point.recall, point.share)


@dataclass
class ClauseScorer:
    """Linear scorers, one per category, over hashed TF-IDF features of a unit and its context."""

    version: str
    categories: tuple[str, ...]
    idfs: list[np.ndarray]
    coef: sp.csr_matrix  # categories x features
    intercept: np.ndarray
    curve: list[CurvePoint]
    meta: dict[str, Any] = field(default_factory=dict)
    stage_two: StageTwo | None = None
    _weights: np.ndarray | None = field(default=None, repr=False, compare=False)
    # Scores kept per (text, units) when set: an evaluation re-triages the same chunks at
    # several thresholds.
    memo: dict[tuple[str, tuple[tuple[int, int], ...]], np.ndarray] | None = field(
        default=None, repr=False, compare=False)

    def score_categories(self, text: str, units: list[tuple[int, int]]) -> np.ndarray:
        """Each unit's score per category (rows: units, columns: categories)."""
        if not units:
            return np.zeros((0, len(self.categories)), dtype=np.float32)
        key = (text, tuple(units))
        if self.memo is not None and key in self.memo:
            return self.memo[key]
        features = weigh(count_blocks(*unit_texts(text, units)), self.idfs)
        scores = np.asarray(features @ self.weights, dtype=np.float32) + self.intercept
        if self.memo is not None:
            self.memo[key] = scores
        return scores

    @property
    def weights(self) -> np.ndarray:
        """The weights as a dense features x categories array (made once, ~20 MB)."""
        if self._weights is None:
            self._weights = np.ascontiguousarray(self.coef.T.toarray())
        return self._weights

    def score(self, text: str, units: list[tuple[int, int]],
              hits: list[Hit] | None = None) -> np.ndarray:
        """Each unit's score, for units of one whole document text (its rule hits given)."""
        return self.rescore(self.score_categories(text, units), units, len(text), hits or [])

    def rescore(self, scores: np.ndarray, units: list[tuple[int, int]], length: int,
                hits: list[Hit]) -> np.ndarray:
        """Final scores of a document's units from their category scores: the second stage,
        or the best category's score when the model has none."""
        if not len(scores):
            return np.zeros(0, dtype=np.float32)
        if self.stage_two is None:
            return scores.max(axis=1)
        rules = rule_features(units, hits, self.stage_two.rule_categories)
        features = document_features(scores, units, length, rules)
        return self.stage_two.score(features).astype(np.float32)

    def score_document(self, chunks: list[tuple[int, str, list[Hit]]], length: int
                       ) -> list[list[tuple[int, int, float, str]]]:
        """Score every unit of a document given as (chunk start, chunk text, chunk hits).

        Returns, per chunk, (start, end, score, category) in chunk offsets: the category is
        the first stage's best, the score the document-level one.
        """
        spans: list[list[tuple[int, int]]] = [cut_units(text) for _, text, _ in chunks]
        category_scores = [self.score_categories(text, units)
                           for (_, text, _), units in zip(chunks, spans, strict=True)]
        document_units = [(offset + a, offset + b)
                          for (offset, _, _), units in zip(chunks, spans, strict=True)
                          for a, b in units]
        document_hits = [Hit(h.rule_id, h.category, h.severity, h.action, offset + h.start,
                             offset + h.end, h.pack, h.pack_version, h.redact_as)
                         for offset, _, hits in chunks for h in hits]
        stacked = (np.vstack(category_scores) if document_units
                   else np.zeros((0, len(self.categories)), dtype=np.float32))
        final = self.rescore(stacked, document_units, length, document_hits)
        result: list[list[tuple[int, int, float, str]]] = []
        row = 0
        for units, scores in zip(spans, category_scores, strict=True):
            result.append([(a, b, float(final[row + i]),
                            self.categories[int(scores[i].argmax())])
                           for i, (a, b) in enumerate(units)])
            row += len(units)
        return result

    def operating_point(self, recall_target: float) -> OperatingPoint:
        """The operating point of its cross-validated curve for a recall target."""
        return operating_point(self.curve, recall_target)

    def to_bytes(self) -> bytes:
        """The model file's bytes (deterministic)."""
        coef = self.coef.tocsr()
        coef.sort_indices()
        arrays = {f"idf:{block.name}": idf.astype(np.float16)
                  for block, idf in zip(BLOCKS, self.idfs, strict=True)}
        arrays |= {"coef.indptr": coef.indptr.astype(np.int32),
                   "coef.indices": coef.indices.astype(np.int32),
                   "coef.data": coef.data.astype(np.float16),
                   "intercept": self.intercept.astype(np.float32)}
        two = self.stage_two
        if two is not None:
            arrays |= {"two.mean": two.mean.astype(np.float64),
                       "two.scale": two.scale.astype(np.float64),
                       "two.coef": two.coef.astype(np.float64),
                       "two.intercept": np.array([two.intercept], dtype=np.float64)}
        header = {"format": FORMAT, "version": self.version, "categories": list(self.categories),
                  "hash_features": HASH_FEATURES, "blocks": [b.name for b in BLOCKS],
                  "curve": [p.__dict__ for p in self.curve], "meta": self.meta,
                  "rule_categories": list(two.rule_categories) if two else None,
                  "arrays": [[name, str(a.dtype), list(a.shape)] for name, a in arrays.items()]}
        head = json.dumps(header, sort_keys=True).encode()
        body = b"".join(a.tobytes() for a in arrays.values())
        return gzip.compress(struct.pack("<I", len(head)) + head + body, mtime=0)

    @classmethod
    def from_bytes(cls, data: bytes) -> ClauseScorer:
        """Read a model file's bytes."""
        raw = gzip.decompress(data)
        (size,) = struct.unpack("<I", raw[:4])
        header = json.loads(raw[4:4 + size])
        if header.get("format") != FORMAT:
            raise ValueError(f"not a clause scorer file (format {header.get('format')!r})")
        if header["hash_features"] != HASH_FEATURES or header["blocks"] != [b.name for b in
                                                                             BLOCKS]:
            raise ValueError("the scorer file was built for other features than this code's")
        arrays: dict[str, np.ndarray] = {}
        offset = 4 + size
        for name, dtype, shape in header["arrays"]:
            count = int(np.prod(shape))
            array = np.frombuffer(raw, dtype=dtype, count=count, offset=offset).reshape(shape)
            arrays[name] = array
            offset += array.nbytes
        categories = tuple(header["categories"])
        coef = sp.csr_matrix((arrays["coef.data"].astype(np.float32), arrays["coef.indices"],
                              arrays["coef.indptr"]),
                             shape=(len(categories), HASH_FEATURES * len(BLOCKS)))
        two = None
        if header.get("rule_categories") is not None:
            two = StageTwo(tuple(header["rule_categories"]), arrays["two.mean"].copy(),
                           arrays["two.scale"].copy(), arrays["two.coef"].copy(),
                           float(arrays["two.intercept"][0]))
        return cls(header["version"], categories,
                   [arrays[f"idf:{b.name}"].astype(np.float32) for b in BLOCKS], coef,
                   arrays["intercept"].astype(np.float32),
                   [CurvePoint(**p) for p in header["curve"]], header["meta"], two)


def load_scorer(path: Path, sha256: str | None = None) -> ClauseScorer:
    """A model file, checked against its manifest hash when one is given."""
    data = path.read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"{path} does not match its manifest sha256; run `make train`")
    return ClauseScorer.from_bytes(data)
