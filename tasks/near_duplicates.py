"""Link near-duplicate documents (MinHash over word shingles) to the document they resemble."""

from __future__ import annotations

import numpy as np
from datasketch import MinHash, MinHashLSH

from compliance.context import RunContext
from compliance.settings import NearDuplicateSettings
from compliance.store.db import Database
from compliance.store.texts import texts_for
from compliance.textnorm import words
from compliance.vocab import readable_current
from tasks.stage import as_task

NUM_PERM = 256
SCHEME = "affine32"  # stored signatures are only comparable within one scheme
# Word bigrams: robust to the reordering that PDF layout extraction causes, yet specific.
SHINGLE_WORDS = 2


def minhash_of(text: str) -> MinHash:
    """MinHash of a text's word-bigram shingles (markup and case ignored)."""
    tokens = words(text)
    signature = MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME)
    shingles = {" ".join(tokens[i:i + SHINGLE_WORDS])
                for i in range(max(1, len(tokens) - SHINGLE_WORDS + 1))}
    signature.update_batch([s.encode("utf-8") for s in shingles])
    return signature


def _from_blob(blob: bytes) -> MinHash:
    return MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME,
                   hashvalues=np.frombuffer(blob, dtype=np.uint64).copy())


def link_similar_documents(db: Database, run_id: str, threshold: float) -> int:
    """Compare not-yet-checked documents with every current one; store links >= threshold."""
    with db.cursor() as cur:
        unchecked = cur.execute(
            f"""
            SELECT d.doc_id, d.text_hash, d.text_sha256 FROM documents d
            WHERE {readable_current("d")} AND NOT d.similarity_checked
            ORDER BY d.doc_id
            """
        ).fetchall()
    if not unchecked:
        return 0
    with db.cursor() as cur:
        signed = {row[0] for row in cur.execute(
            "SELECT text_hash FROM minhashes WHERE text_hash IN (SELECT unnest(?::VARCHAR[]))",
            [sorted({text_hash for _, text_hash, _ in unchecked})]).fetchall()}
        to_sign = {text_hash: text_sha for _, text_hash, text_sha in unchecked
                   if text_hash not in signed}
        # Texts a page at a time: one lookup per text grew with the database (see texts.py).
        for text_hash, text in texts_for(cur, to_sign.items()):
            signature = minhash_of(text or "")
            cur.execute("INSERT INTO minhashes VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                        [text_hash, NUM_PERM, signature.hashvalues.astype(np.uint64).tobytes()])
    with db.cursor() as cur:
        rows = cur.execute(
            f"""
            SELECT d.doc_id, d.rel_path, d.text_hash, m.signature
            FROM documents d JOIN minhashes m USING (text_hash)
            WHERE {readable_current("d")}
            ORDER BY d.doc_id
            """
        ).fetchall()
    # The LSH only proposes candidates; the stored similarity is the MinHash Jaccard estimate.
    lsh = MinHashLSH(threshold=max(0.1, threshold * 0.8), num_perm=NUM_PERM)
    signatures: dict[int, tuple[str, str, MinHash]] = {}
    for doc_id, rel_path, text_hash, blob in rows:
        signature = _from_blob(blob)
        signatures[doc_id] = (rel_path, text_hash, signature)
        lsh.insert(str(doc_id), signature)
    links = 0
    unchecked_ids = [row[0] for row in unchecked]
    with db.transaction() as cur:
        for doc_id in unchecked_ids:
            rel_path, text_hash, signature = signatures[doc_id]
            best: tuple[float, int] | None = None
            for candidate in lsh.query(signature):
                other = int(candidate)
                other_path, other_hash, other_signature = signatures[other]
                # Same text is an exact link (same_text_as); an older version is not a peer.
                if other == doc_id or other_hash == text_hash or other_path == rel_path:
                    continue
                similarity = float(signature.jaccard(other_signature))
                if similarity >= threshold and (best is None or (similarity, -other) > best):
                    best = (similarity, -other)
            if best is not None:
                similarity, negative_other = best
                other = -negative_other
                first, second = (doc_id, other) if doc_id > other else (other, doc_id)
                cur.execute(
                    "INSERT INTO near_duplicates VALUES (?, ?, ?, 'minhash', ?) "
                    "ON CONFLICT DO NOTHING",
                    [first, second, round(similarity, 4), run_id],
                )
                links += 1
            cur.execute("UPDATE documents SET similarity_checked = true WHERE doc_id = ?",
                        [doc_id])
    return links


@as_task("link-near-duplicates")
def link_near_duplicates(ctx: RunContext, settings: NearDuplicateSettings) -> int:
    """Link documents that resemble an earlier one."""
    return link_similar_documents(ctx.db, ctx.run_id, settings.near_duplicate_threshold)
