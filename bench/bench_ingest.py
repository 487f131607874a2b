"""Reading files: the ingest stage against raw pypdf, and the pipeline's hashing against raw
hashlib, on the same files, same machine, same run.

    .venv/bin/python bench/bench_ingest.py [--reps 5] [--json F]

Parsing: the readable PDFs of ../shared/corpus/formats/pdf and data/samples, and those of a
seeded synthetic share (bench/scale_share.py, no duplicates: the stage would skip a copy that
raw pypdf parses), copied to a temporary folder. The raw side reads each file and calls
pypdf's `PdfReader(...).pages[i].extract_text()` for every page, one file after another in
this process (what a script using the library would do). The stage side is
`tasks.ingest.ingest_files` into a fresh DuckDB file with its default settings: the hash, the
duplicate check, the isolated parser workers (each with its memory cap and timeout;
`parse_workers` of them), paragraph splitting, and one transaction per document. It is also
timed with one worker, the like-for-like single stream. Throughput is pages a second.

Hashing: every file of ../shared/corpus/formats and data/samples plus one 64 MB file: raw
`hashlib.sha256(path.read_bytes())` against `compliance.extract.reading.hash_source` (streamed
blocks, a size cap, regular files only). Throughput is MB a second.

Sides alternate within each repetition so the machine's load hits them alike; every figure is
the median of the repetitions with its spread (max - min).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compliance.extract.reading import hash_source  # noqa: E402
from compliance.settings import IngestSettings  # noqa: E402
from compliance.store.db import Database  # noqa: E402
from tasks.discover import discover_files  # noqa: E402
from tasks.ingest import ingest_files  # noqa: E402

FORMATS = ROOT.parent / "shared" / "corpus" / "formats"
BIG_FILE_MB = 64


def readable_pdfs(share: Path | None = None) -> list[Path]:
    """The PDFs pypdf reads without a password: the corpus's pdf/ folder, the samples and the
    synthetic share's."""
    from pypdf import PdfReader

    found = []
    candidates = [*(FORMATS / "pdf").glob("*.pdf"), *(ROOT / "data/samples").rglob("*.pdf"),
                  *(share.rglob("*.pdf") if share else [])]
    for path in sorted(candidates):
        try:
            reader = PdfReader(path)
            if not reader.is_encrypted and len(reader.pages):
                found.append(path)
        except Exception:  # noqa: BLE001 - a file pypdf cannot open is not a fair test of either side
            continue
    return found


def raw_pypdf(paths: list[Path]) -> int:
    """Pages read by plain pypdf, file after file, text of every page."""
    from pypdf import PdfReader

    pages = 0
    for path in paths:
        reader = PdfReader(io.BytesIO(path.read_bytes()))
        for page in reader.pages:
            page.extract_text()
            pages += 1
    return pages


def stage_ingest(folder: Path, work: Path, workers: int) -> int:
    """Documents stored by the ingest stage from `folder` into a fresh database."""
    db_path = work / f"ingest-{uuid.uuid4().hex}.duckdb"
    db = Database(db_path)
    try:
        settings = IngestSettings(parse_workers=workers)
        result = ingest_files(db, "bench", folder, discover_files(folder, ["*"], []), [],
                              settings)
        return len(result.doc_ids)
    finally:
        db.close()
        for leftover in work.glob(db_path.name + "*"):
            leftover.unlink()


def raw_hash(paths: list[Path]) -> int:
    """Bytes hashed by hashlib over whole files read at once."""
    total = 0
    for path in paths:
        data = path.read_bytes()
        hashlib.sha256(data).hexdigest()
        total += len(data)
    return total


def pipeline_hash(paths: list[Path]) -> int:
    """Bytes hashed by the ingest stage's streamed, capped reader."""
    return sum(hash_source(str(path), 1 << 40)[1] for path in paths)


def median_spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 4),
            "spread": round(max(values) - min(values), 4), "runs": len(values)}


def alternate(sides: dict[str, Callable[[], object]], reps: int) -> dict[str, list[float]]:
    """Seconds of each side per repetition, the sides taking turns (and one untimed warm-up)."""
    for work in sides.values():
        work()
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    for rep in range(reps):
        order = list(sides) if rep % 2 == 0 else list(reversed(sides))
        for name in order:
            started = time.perf_counter()
            sides[name]()
            seconds[name].append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--share-files", type=int, default=400,
                        help="files in the synthetic share whose PDFs are added (about a quarter)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        share = work / "share"
        if args.share_files:
            sys.path.insert(0, str(ROOT / "bench"))
            from scale_share import generate_share

            generate_share(share, args.share_files, seed=16, dup_share=0.0)
        pdfs = readable_pdfs(share if args.share_files else None)
        folder = work / "pdfs"
        folder.mkdir()
        for number, path in enumerate(pdfs):
            shutil.copy(path, folder / f"{number:04d}-{path.name}")
        pages = raw_pypdf(pdfs)
        default_workers = IngestSettings().parse_workers
        parse = alternate({
            "raw_pypdf": lambda: raw_pypdf(pdfs),
            "stage": lambda: stage_ingest(folder, work, default_workers),
            "stage_one_worker": lambda: stage_ingest(folder, work, 1),
        }, args.reps)

        big = work / "big.bin"
        with big.open("wb") as out:
            for _ in range(BIG_FILE_MB):
                out.write(os.urandom(1 << 20))
        hashed = [p for p in sorted([*FORMATS.rglob("*"), *(ROOT / "data/samples").rglob("*")])
                  if p.is_file()] + [big]
        total_bytes = raw_hash(hashed)
        hashing = alternate({"raw_hashlib": lambda: raw_hash(hashed),
                             "pipeline": lambda: pipeline_hash(hashed)}, args.reps)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def rate(amount: float, seconds: list[float]) -> float:
        return amount / statistics.median(seconds)

    pages_per_s = {name: round(rate(pages, s), 1) for name, s in parse.items()}
    mb_per_s = {name: round(rate(total_bytes / 1e6, s), 1) for name, s in hashing.items()}
    figures = {
        "parse": {"files": len(pdfs), "pages": pages, "parse_workers": default_workers,
                  "seconds": {name: median_spread(s) for name, s in parse.items()},
                  "pages_per_s": pages_per_s},
        "ingest_vs_raw_pypdf": round(pages_per_s["stage"] / pages_per_s["raw_pypdf"], 3),
        "ingest_one_worker_vs_raw_pypdf": round(
            pages_per_s["stage_one_worker"] / pages_per_s["raw_pypdf"], 3),
        "hash": {"files": len(hashed), "mb": round(total_bytes / 1e6, 1),
                 "seconds": {name: median_spread(s) for name, s in hashing.items()},
                 "mb_per_s": mb_per_s},
        "hash_vs_raw_hashlib": round(mb_per_s["pipeline"] / mb_per_s["raw_hashlib"], 3),
    }
    print(f"| side | pages/s (median of {args.reps}) | seconds (spread) |")
    print("|---|--:|--:|")
    for name, s in parse.items():
        print(f"| {name} | {pages_per_s[name]} | {statistics.median(s):.2f} "
              f"(±{max(s) - min(s):.2f}) |")
    print(f"\n{len(pdfs)} PDFs, {pages} pages. ingest / raw pypdf: "
          f"{figures['ingest_vs_raw_pypdf']}x ({default_workers} workers), "
          f"{figures['ingest_one_worker_vs_raw_pypdf']}x (1 worker)")
    print(f"hash: {len(hashed)} files, {total_bytes / 1e6:.0f} MB: pipeline {mb_per_s['pipeline']}"
          f" MB/s, hashlib {mb_per_s['raw_hashlib']} MB/s, ratio {figures['hash_vs_raw_hashlib']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
