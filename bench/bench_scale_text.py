"""Cost against size for one large plain-text contract: ingest, chunk and flag (the cheap stages;
summaries and escalation off), each size in a fresh process, with seconds and peak memory.

    .venv/bin/python bench/bench_scale_text.py [--sizes-mb 50 100 200] [--source JSONL]

The text is real contract paragraphs (default: ../shared/corpus/contracts/cuad_train.jsonl,
else the test fixture) repeated with varied numbers, generated in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from tests.scale_helpers import SMALL_CONTRACTS, contract_paragraphs, write_contract_text  # noqa: E402

TRAIN = PROJECT_ROOT.parent / "shared" / "corpus" / "contracts" / "cuad_train.jsonl"


def _peak_rss_mb() -> float:
    """This process's peak resident set so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(size_mb: float, source: Path, work: Path, scorer: str | None,
            entities: bool) -> dict[str, float]:
    """Generate one file of size_mb and run the stages on it in this process."""
    from compliance import context
    from compliance.rules.matching import RuleSet
    from compliance.settings import IngestSettings, PipelineParams
    from tasks import chunk, flag, ingest, inventory

    folder = work / "docs"
    folder.mkdir()
    written = write_contract_text(folder / "big.txt", int(size_mb * 1_000_000),
                                  contract_paragraphs(source))
    # The file must be read whole: limits above its size where the defaults are below it.
    limits = {name: max(IngestSettings.model_fields[name].default, 1.2 * size_mb)
              for name in ("max_file_mb", "max_text_mb")
              if name in IngestSettings.model_fields}
    params = PipelineParams(source=str(folder), db_path=str(work / "bench.duckdb"),
                            summarize="off", local_budget_seconds=0, escalation="off",
                            scorer=scorer, **limits)
    timings: dict[str, float] = {"mb": written / 1e6, "rss_start_mb": _peak_rss_mb()}
    inputs = context.load_inputs(params)
    if not entities:  # spaCy's entity pass: ~40 ms a chunk, most of the flag stage
        inputs.rules = RuleSet([r for r in inputs.rules.rules if not r.entities],
                               inputs.rules.pack_versions, inputs.rules.whole_document)
    with context.running(params, inputs, "bench") as ctx:
        started = time.perf_counter()
        plan = inventory.take_inventory.fn(ctx, params)
        result = ingest.ingest_documents.fn(ctx, params, plan)
        timings["ingest_s"] = time.perf_counter() - started
        timings["rss_ingest_mb"] = _peak_rss_mb()
        assert not result.failures, result.failures
        mark = time.perf_counter()
        timings["chunks"] = chunk.chunk_documents.fn(ctx, params)
        timings["chunk_s"] = time.perf_counter() - mark
        timings["rss_chunk_mb"] = _peak_rss_mb()
        mark = time.perf_counter()
        flagged = flag.flag_chunks.fn(ctx, params)
        timings["flag_s"] = time.perf_counter() - mark
        timings["total_s"] = time.perf_counter() - started
        timings["flags"] = sum(flagged.flags_by_category.values())
    timings["peak_rss_mb"] = _peak_rss_mb()
    timings["children_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes-mb", type=float, nargs="+", default=[50, 100, 200])
    parser.add_argument("--source", type=Path, default=TRAIN if TRAIN.exists() else SMALL_CONTRACTS)
    parser.add_argument("--scorer", help="clause scorer (a name, a .bin file or 'off')")
    parser.add_argument("--without-entities", action="store_true",
                        help="leave out the rules that need spaCy's entity pass")
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)  # a child: one size
    args = parser.parse_args()
    if args.one is not None:
        with tempfile.TemporaryDirectory() as work:
            print(json.dumps(measure(args.one, args.source, Path(work), args.scorer,
                                     not args.without_entities)))
        return
    print(f"source paragraphs: {args.source}; scorer {args.scorer or 'default'}; entity rules "
          f"{'off' if args.without_entities else 'on'}")
    print(f"{'MB':>7} {'chunks':>8} {'flags':>8} {'ingest s':>9} {'chunk s':>8} {'flag s':>8} "
          f"{'total s':>8} {'s/MB':>6} {'peak RSS MB':>11} {'parser RSS MB':>13}")
    for size in args.sizes_mb:
        # A fresh process per size: peak memory is the size's own, not the largest so far.
        extra = [*(["--scorer", args.scorer] if args.scorer else []),
                 *(["--without-entities"] if args.without_entities else [])]
        out = subprocess.run([sys.executable, __file__, "--one", str(size), "--source",
                              str(args.source), *extra], check=True, capture_output=True,
                             text=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{row['mb']:7.1f} {row['chunks']:8.0f} {row['flags']:8.0f} {row['ingest_s']:9.1f} "
              f"{row['chunk_s']:8.1f} {row['flag_s']:8.1f} {row['total_s']:8.1f} "
              f"{row['total_s'] / row['mb']:6.2f} {row['peak_rss_mb']:11.0f} "
              f"{row['children_peak_rss_mb']:13.0f}", flush=True)


if __name__ == "__main__":
    main()
