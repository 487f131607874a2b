"""The same share run twice by the real CLI: once with parsing, flagging and model calls in the
flow's machine, once on a local Dask cluster; the two databases must hold the same rows.

    .venv/bin/python bench/bench_dask_share.py [--files 1000] [--workers 2] [--seed 16]
        [--keep DIR] [--json bench/results/dask-share.json]

The share is bench/scale_share.py's (seeded; PDF, DOCX, EML with attachments, HTML, TXT, MD).
Summaries and escalation are off, so what is compared is deterministic: documents (status and
hashes), chunks, flags and triage decisions. Wall time and the peak resident memory of each
run's whole process tree (the CLI, its Prefect server, the Dask workers and their parser
processes) are recorded beside the comparison. On a 2-core machine the cluster cannot be
faster than the local run (same cores, plus shipping); the point is that the rows are the same.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import duckdb

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench_hostile_folder import run_and_watch  # noqa: E402
from scale_share import generate_share  # noqa: E402

ROOT = BENCH.parent
RUN_OPTIONS = ["--summarize", "off", "--escalation", "off", "--no-progress"]

# What both runs must have stored alike, keyed by path and sequence (ids are not compared:
# documents are stored in the order they finish parsing).
STORED = {
    "documents": """
        SELECT rel_path, status, sha256, text_sha256, error FROM documents ORDER BY ALL""",
    "chunks": """
        SELECT d.rel_path, c.seq, c.char_start, c.char_end, c.token_count, c.chunk_hash
        FROM chunks c JOIN documents d USING (doc_id) ORDER BY ALL""",
    "flags": """
        SELECT d.rel_path, c.seq, f.rule_id, f.char_start, f.char_end, f.matched_text
        FROM flags f JOIN chunks c USING (chunk_id) JOIN documents d ON d.doc_id = f.doc_id
        ORDER BY ALL""",
    "triage": """
        SELECT d.rel_path, c.seq, t.score, t.decision, t.reasons::VARCHAR, t.scorer_score
        FROM triage t JOIN chunks c USING (chunk_id) JOIN documents d USING (doc_id)
        ORDER BY ALL""",
    "escalation_windows": """
        SELECT d.rel_path, w.char_start, w.char_end, w.redacted_sha256
        FROM escalation_windows w JOIN documents d USING (doc_id) ORDER BY ALL""",
}


def stored(db_path: Path) -> dict[str, list[tuple]]:
    """Every compared table's rows, read-only."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        return {table: con.execute(sql).fetchall() for table, sql in STORED.items()}


def run(share: Path, db_path: Path, extra: list[str]) -> dict[str, float]:
    """One CLI run over the share; its wall seconds and the process tree's peak RSS."""
    command = [str(ROOT / ".venv" / "bin" / "compliance"), "run", str(share), "--db",
               str(db_path), *RUN_OPTIONS, *extra]
    code, seconds, peak, output = run_and_watch(command, dict(os.environ))
    if code != 0:
        raise SystemExit(f"{' '.join(command)} failed ({code}):\n{output[-3000:]}")
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(peak)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=BENCH / "results" / "dask-share.json")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-dask-"))
    try:
        share = work / "share"
        if not share.exists():
            generate_share(share, args.files, seed=args.seed)
        runs = {"local": run(share, work / "local.duckdb", []),
                "dask": run(share, work / "dask.duckdb",
                            ["--task-runner", "dask", "--dask-workers", str(args.workers)])}
        local, spread = stored(work / "local.duckdb"), stored(work / "dask.duckdb")
        rows = {table: {"local": len(local[table]), "dask": len(spread[table]),
                        "same": local[table] == spread[table]} for table in STORED}
        result = {"files": args.files, "workers": args.workers, "seed": args.seed,
                  "runs": runs, "rows": rows,
                  "same_rows": all(table["same"] for table in rows.values())}
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.files} files; local {runs['local']['seconds']} s, "
          f"{runs['local']['peak_rss_mb']} MB; Dask ({args.workers} workers) "
          f"{runs['dask']['seconds']} s, {runs['dask']['peak_rss_mb']} MB")
    print("| table | local rows | Dask rows | same |\n|---|--:|--:|---|")
    for table, counts in rows.items():
        print(f"| {table} | {counts['local']:,} | {counts['dask']:,} | "
              f"{'yes' if counts['same'] else 'NO'} |")
    if not result["same_rows"]:
        raise SystemExit("the Dask run stored other rows than the local run")


if __name__ == "__main__":
    main()
