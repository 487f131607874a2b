"""What the scorer sees of a unit: its words, its characters and the words around it.

Features are hashed (no vocabulary to store), so the model file holds only weights. Each block
is TF-IDF weighted with sublinear term frequency and L2-normalised on its own; the context
block (the units before and after) counts half.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

HASH_FEATURES = 2**18


@dataclass(frozen=True)
class Block:
    """One hashed feature block."""

    name: str
    weight: float


BLOCKS = (Block("words", 1.0), Block("chars", 1.0), Block("context", 0.5))

_WORDS = HashingVectorizer(ngram_range=(1, 2), n_features=HASH_FEATURES,
                           alternate_sign=False, norm=None)
_CHARS = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=HASH_FEATURES,
                           alternate_sign=False, norm=None)


def unit_texts(text: str, units: list[tuple[int, int]]) -> tuple[list[str], list[str]]:
    """Each unit's own text, and the text of its neighbours (the unit before and after)."""
    own = [text[a:b] for a, b in units]
    context = [" ".join(own[max(0, i - 1):i] + own[i + 1:i + 2]) for i in range(len(own))]
    return own, context


def count_blocks(own: list[str], context: list[str]) -> list[sp.csr_matrix]:
    """Raw hashed counts of each block, one row per unit."""
    return [_WORDS.transform(own).tocsr(), _CHARS.transform(own).tocsr(),
            _WORDS.transform(context).tocsr()]


def idf_of(counts: sp.csr_matrix) -> np.ndarray:
    """Smoothed inverse document frequency of each hashed feature (as scikit-learn's)."""
    documents = counts.shape[0]
    frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    return (np.log((1 + documents) / (1 + frequency)) + 1).astype(np.float32)


def weigh(blocks: list[sp.csr_matrix], idfs: list[np.ndarray]) -> sp.csr_matrix:
    """TF-IDF of each block, L2-normalised per block, weighted and joined.

    Works on the stored entries only: a chunk of a few units costs a few thousand operations,
    not one per hashed feature.
    """
    weighted = []
    for counts, idf, block in zip(blocks, idfs, BLOCKS, strict=True):
        matrix = counts.astype(np.float32, copy=True)
        matrix.sum_duplicates()
        matrix.data = np.log1p(matrix.data) * idf[matrix.indices]
        lengths = np.diff(matrix.indptr)
        squares = np.zeros(matrix.shape[0], dtype=np.float32)
        rows = np.repeat(np.arange(matrix.shape[0]), lengths)
        np.add.at(squares, rows, matrix.data ** 2)
        norms = np.sqrt(squares)
        norms[norms == 0] = 1
        matrix.data *= (block.weight / norms)[rows]
        weighted.append(matrix)
    return sp.hstack(weighted, format="csr", dtype=np.float32)
