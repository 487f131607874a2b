"""A whole `compliance run` over a folder of hostile files and one very large text file.

Builds the hostile folder of the tests (tests/hostile_files.py: zip bombs, a 3,000-page PDF,
nested PDFs, random bytes, odd names, a symlink loop...) plus a generated plain-text contract of
SIZE_MB (default 200), runs the real CLI on it with the default limits, samples the resident
memory of the whole process tree (the CLI, its Prefect server, parser workers) every 0.1 s, and
prints the wall time, the peak and every file's status and reason.

    .venv/bin/python bench/bench_hostile_folder.py [SIZE_MB] [--keep DIR] [-- RUN OPTIONS...]

Without run options the local model's budget is 120 s (--local-budget-seconds), so that the run
ends in minutes whatever the folder holds; what is left stays pending for the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import hostile_files  # noqa: E402
import scale_helpers  # noqa: E402


def tree_rss_mb(root_pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, parent = int(entry), int(fields[1])
        children.setdefault(parent, []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / 1e6


def run_and_watch(command: list[str], env: dict[str, str]) -> tuple[int, float, float, str]:
    """Run a command; its exit code, wall seconds, the tree's peak RSS (MB) and its output."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_mb(process.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    done.set()
    sampler.join()
    return process.returncode, time.perf_counter() - started, peak, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size_mb", nargs="?", type=float, default=200)
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: a temporary one)")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    run_options = argv[split + 1:] or ["--local-budget-seconds", "120"]
    work = args.keep or Path(tempfile.mkdtemp(prefix="hostile-bench-"))
    source = work / "hostile"
    hostile_files.make_hostile_folder(source)
    written = scale_helpers.write_contract_text(source / "huge-contract.txt",
                                                int(args.size_mb * 1e6))
    db = work / "hostile.duckdb"
    env = {**os.environ, "ANTHROPIC_API_KEY": ""}
    command = [str(ROOT / ".venv" / "bin" / "compliance"), "run", str(source), "--db", str(db),
               *run_options]
    code, seconds, peak, output = run_and_watch(command, env)
    print(output[-3000:])
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("""
            SELECT rel_path, status, coalesce(error, '') FROM documents
            WHERE is_current AND parent_doc_id IS NULL ORDER BY rel_path""").fetchall()
    result = {"exit_code": code, "seconds": round(seconds, 1), "peak_tree_rss_mb": round(peak),
              "text_file_mb": round(written / 1e6, 1), "files": len(rows)}
    print("| file | status | reason |\n|---|---|---|")
    for rel_path, status, error in rows:
        print(f"| {rel_path!r} | {status} | {error[:110]} |")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
