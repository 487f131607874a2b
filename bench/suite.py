"""`make bench`: every benchmark against its raw-library baseline, in one go, on this machine.

    .venv/bin/python bench/suite.py [--reps 3] [--out bench/results/latest.json]

Runs, each in its own process, one after another (never two at once on a small machine):
bench_summarize.py (the summarize stage against raw llama-cpp-python), bench_ingest.py (the
ingest stage against raw pypdf, the pipeline's hashing against raw hashlib) and bench_triage.py
(the flag stage per 1,000 chunks, with its parts). The scale figures come from the last
`make bench-scale` (bench/results/scale.json, hours at 10,000 files, so not re-run here), with
the date they were measured, and so do the cloud-spend figures (`make bench-cost`,
bench/results/cost.json, ~12 minutes). Writes bench/results/latest.json and prints a markdown
table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                    if line.startswith("model name")), "")
    memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gib": memory_gb,
            "python": platform.python_version(), "platform": platform.platform(),
            "llama_cpp_python": version("llama-cpp-python"), "duckdb": version("duckdb"),
            "pypdf": version("pypdf"), "llm_threads": os.environ.get("COMPLIANCE_LLM_THREADS")}


def run_bench(script: str, arguments: list[str], into: Path) -> tuple[dict, float]:
    """Run one benchmark script with --json; its figures and its wall seconds."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-u", str(BENCH / script), *arguments, "--json", str(into)],
                   check=True, cwd=BENCH.parent)
    return json.loads(into.read_text()), round(time.perf_counter() - started, 1)


def scale_figures() -> dict[str, dict[str, object]]:
    """The last scale run's headline figures per size, with when they were measured."""
    path = RESULTS / "scale.json"
    if not path.exists():
        return {}
    measured = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).isoformat(timespec="seconds")
    out = {}
    for size, figures in json.loads(path.read_text()).items():
        out[size] = {key: figures.get(key) for key in
                     ("first_run_s", "rerun_s", "peak_rss_mb", "peak_rss_mb_first", "db_mb",
                      "entities")}
        out[size]["rerun_share"] = round(figures["rerun_s"] / figures["first_run_s"], 4)
        out[size]["measured"] = figures.get("measured", measured)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args()
    started = time.perf_counter()
    reps = str(args.reps)
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as work:
        folder = Path(work)
        # Batches of 8: the size the README recommends (16 gained less on this machine).
        summarize, summarize_s = run_bench("bench_summarize.py",
                                           ["--reps", reps, "--batch", "8"],
                                           folder / "summarize.json")
        ingest, ingest_s = run_bench("bench_ingest.py", ["--reps", str(max(args.reps, 5))],
                                     folder / "ingest.json")
        triage, triage_s = run_bench("bench_triage.py", ["--repeats", reps],
                                     folder / "triage.json")
    batched = next(name for name in summarize if name.startswith("stage, batched"))
    latest = {
        "measured": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "summarize_vs_raw_throughput": round(summarize[batched]["throughput_vs_raw"], 3),
        "summarize_one_at_a_time_vs_raw_throughput": round(
            summarize["stage, one at a time"]["throughput_vs_raw"], 3),
        "ingest_vs_raw_pypdf": ingest["ingest_vs_raw_pypdf"],
        "ingest_one_worker_vs_raw_pypdf": ingest["ingest_one_worker_vs_raw_pypdf"],
        "hash_vs_raw_hashlib": ingest["hash_vs_raw_hashlib"],
        "flag_ms_per_1000_chunks": triage["flag_ms_per_1000_chunks"],
        "scale": scale_figures(),
        "cost": (json.loads((RESULTS / "cost.json").read_text())
                 if (RESULTS / "cost.json").exists() else {}),
        "details": {"summarize": summarize, "ingest": ingest, "triage": triage},
        "bench_seconds": {"summarize": summarize_s, "ingest": ingest_s, "triage": triage_s,
                          "total": round(time.perf_counter() - started, 1)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(latest, indent=1) + "\n")
    print(markdown(latest))


def markdown(latest: dict) -> str:
    """The README's Performance table."""
    summarize = latest["details"]["summarize"]
    batched = next(name for name in summarize if name.startswith("stage, batched"))
    ingest = latest["details"]["ingest"]
    triage = latest["details"]["triage"]
    parts = triage["parts_s_per_1000_chunks"]
    rows = [
        ("summarize stage, batched, vs raw llama-cpp-python (throughput)",
         f"{latest['summarize_vs_raw_throughput']:.2f}x",
         f"{summarize[batched]['same_as_raw']} of the answers byte-identical to raw's"),
        ("summarize stage, one at a time, vs raw",
         f"{latest['summarize_one_at_a_time_vs_raw_throughput']:.2f}x", "the default"),
        ("ingest stage vs raw pypdf (pages/s)", f"{latest['ingest_vs_raw_pypdf']:.2f}x",
         f"{ingest['parse']['parse_workers']} parser workers; 1 worker: "
         f"{latest['ingest_one_worker_vs_raw_pypdf']:.2f}x; {ingest['parse']['pages']} pages"),
        ("pipeline hashing vs raw hashlib (MB/s)", f"{latest['hash_vs_raw_hashlib']:.2f}x",
         f"{ingest['hash']['files']} files, {ingest['hash']['mb']} MB"),
        ("flag stage per 1,000 chunks", f"{latest['flag_ms_per_1000_chunks'] / 1000:.1f} s",
         f"patterns {parts['patterns']} s, names (NER) {parts['entity_pass']} s, scorer "
         f"{parts['clause_scorer']} s, database and decisions {parts['database_and_decisions']}"
         " s"),
    ]
    lines = ["| measure | result | note |", "|---|--:|---|"]
    lines += [f"| {name} | {value} | {note} |" for name, value, note in rows]
    if latest["scale"]:
        lines += ["", "| files | first run s | unchanged re-run s | re-run share | peak RSS MB "
                  "(process tree) | DB MB |", "|--:|--:|--:|--:|--:|--:|"]
        for size, figures in sorted(latest["scale"].items(), key=lambda item: int(item[0])):
            lines.append(f"| {int(size):,} | {figures['first_run_s']} | {figures['rerun_s']} | "
                         f"{figures['rerun_share']:.2%} | {figures['peak_rss_mb']} | "
                         f"{figures['db_mb']} |")
    facts = latest["machine"]
    lines += ["", f"Measured {latest['measured']} on {facts['cpus']} CPUs ({facts['cpu']}), "
              f"{facts['memory_gib']} GiB; `make bench` took {latest['bench_seconds']['total']:.0f}"
              " s."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
