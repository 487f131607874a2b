"""Cost against the number of documents: a whole `compliance run` over a synthetic share
(bench/scale_share.py) of 100, 1,000 and 10,000 files, then an unchanged re-run.

    .venv/bin/python bench/bench_scale_share.py [--sizes 100 1000] [--seed 16] [--keep DIR]
        [--out bench/results/scale.json] [--plot bench/results/scale.png] [--force-rerun-flow]
        [--without-entities] [--local-model-budget SECONDS --out OTHER.json]

--without-entities leaves out the rules that need spaCy's entity pass (person names), in the
benchmark's child only, under a rule-set version of their own: that pass is most of the flag
stage (see bench_triage.py for its cost per 1,000 chunks), and grows linearly with the chunks.

Each run is the real CLI in a fresh process (summaries and escalation off, no API key), with
hooks that time its phases and the flow's stages (the `runs` table keeps only the stage a run
is in, not how long each took); the resident memory of the whole process tree (the CLI, its
temporary Prefect server, the parser workers) is sampled every 0.1 s as
bench/bench_hostile_folder.py does. Results are merged into the JSON file by size, printed as a
markdown table and plotted (log-log, per stage) when matplotlib is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench_hostile_folder import run_and_watch  # noqa: E402
from scale_share import generate_share  # noqa: E402

# bench_hostile_folder puts tests/ first on the path, where tests/compliance/ would shadow the
# compliance package in the child run.
sys.path[:] = [str(ROOT), *(p for p in sys.path if p != str(ROOT / "tests"))]

RESULTS = BENCH / "results"
WITHOUT_ENTITIES = "BENCH_SCALE_WITHOUT_ENTITIES"
RUN_OPTIONS = ["--summarize", "off", "--escalation", "off", "--local-budget-seconds", "0",
               "--no-progress"]


# ---------------------------------------------------------------------------- the child


def child(marks_file: Path, cli_args: list[str]) -> None:
    """Run the CLI in this process with timing hooks; write the marks (wall clock) at exit.

    The hooks import nothing the CLI would not import at that point itself: an unchanged
    re-run must not pay for Prefect's import because of the benchmark.
    """
    marks: list[tuple[str, float]] = [("start", time.time())]

    def mark(name: str) -> None:
        """Record that `name` begins now."""
        marks.append((name, time.time()))

    def wrap(module: object, attribute: str, before: str, after: str | None = None,
             then: Callable[[object], None] | None = None) -> None:
        """Wrap module.attribute: mark `before` on call, `after` on return, then run `then`."""
        original = getattr(module, attribute)

        def wrapper(*args: object, **kwargs: object) -> object:
            mark(before)
            result = original(*args, **kwargs)
            if after:
                mark(after)
            if then is not None:  # after the mark: the CLI's own next step, timed as such
                then(result)
            return result

        setattr(module, attribute, wrapper)

    def hook_unchanged_run(files: object) -> None:
        """Nothing changed: the CLI imports tasks.report next to record the run."""
        if files is not None:
            import tasks.report

            wrap(tasks.report, "record_unchanged_run", "record-unchanged-run")

    def hook_report(_: object) -> None:
        """The flow module is imported by now (the CLI imports it before starting Prefect)."""
        import flows.artifacts

        wrap(flows.artifacts, "publish_run_report", "publish-report", "flow-teardown")

    if os.environ.get(WITHOUT_ENTITIES) == "1":
        drop_entity_rules()
    try:
        import compliance.cli.main as cli
        from compliance.store import runs

        # The CLI looks these up in its module when it calls them.
        wrap(cli, "_unchanged_files", "no-change-check", "cli-after-check",
             hook_unchanged_run)
        wrap(cli, "ensure_prefect", "prefect-server-start", "flow-setup", hook_report)
        note_stage = runs.note_stage

        def noted(db: object, run_id: str, stage: str) -> None:
            """The flow notes each stage as it enters it: the stage's start."""
            mark(stage)
            note_stage(db, run_id, stage)  # type: ignore[arg-type]

        runs.note_stage = noted
        mark("cli-imports-done")
        sys.argv = ["compliance", *cli_args]
        cli.app(prog_name="compliance")
    finally:
        mark("end")
        marks_file.write_text(json.dumps(marks))


def drop_entity_rules() -> None:
    """Make load_rules leave out the entity rules, before any module binds it by name."""
    import compliance.rules.loader as loader
    from compliance.rules.matching import RuleSet

    original = loader.load_rules

    def load_rules(directory: Path | None = None) -> RuleSet:
        rules = original(directory)
        return RuleSet([rule for rule in rules.rules if not rule.entities],
                       {**rules.pack_versions, "bench-without-entities": "1"},
                       rules.whole_document)

    loader.load_rules = load_rules


def stage_seconds(marks: list[tuple[str, float]], launched: float,
                  ended: float) -> dict[str, float]:
    """Seconds per phase and stage from the child's marks, launch to exit, in order.

    A mark starts a phase that lasts until the next mark; the bookkeeping marks (after a
    check, the flow's return) fold into the phase they end.
    """
    rename = {"start": "cli-imports", "cli-imports-done": "cli-imports",
              "cli-after-check": "imports-after-check", "end": "exit"}
    out: dict[str, float] = {"interpreter-start": marks[0][1] - launched}
    points = [*marks, ("", ended)]
    for (name, at), (_, until) in zip(points, points[1:], strict=False):
        key = rename.get(name, name)
        out[key] = out.get(key, 0.0) + (until - at)
    return {key: round(value, 3) for key, value in out.items()}


# ---------------------------------------------------------------------------- the parent


def run_once(share: Path, db: Path, work: Path, label: str, extra: list[str],
             startup_timeout: float, entities: bool = True) -> dict[str, object]:
    """One CLI run in a fresh process: wall seconds, stages, tree peak RSS, exit code."""
    marks_file = work / f"marks-{label}.json"
    env = {**os.environ, "ANTHROPIC_API_KEY": "", "PREFECT_HOME": str(work / "prefect-home"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", WITHOUT_ENTITIES: "0" if entities else "1"}
    env.pop("PREFECT_API_URL", None)  # the CLI's own temporary server, as a user gets it
    command = [sys.executable, __file__, "--child", str(marks_file), "--", "run", str(share),
               "--db", str(db), *RUN_OPTIONS, "--prefect-startup-timeout-seconds",
               str(startup_timeout), *extra]
    launched = time.time()
    code, seconds, peak, output = run_and_watch(command, env)
    ended = launched + seconds
    if code != 0:
        print(output[-4000:], file=sys.stderr)
        raise SystemExit(f"{label} run exited {code}")
    marks = [tuple(m) for m in json.loads(marks_file.read_text())]
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak),
            "stages": stage_seconds(marks, launched, ended),  # type: ignore[arg-type]
            "tail": output.strip().splitlines()[-3:]}


def local_model(db: Path) -> dict[str, object]:
    """What the local model did: calls and seconds per run, chunks summarized and pending."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        calls = con.execute("""
            SELECT run_id, count(*), round(sum(duration_seconds), 1),
                   count(*) FILTER (WHERE error IS NOT NULL)
            FROM llm_calls WHERE provider = 'local' GROUP BY 1 ORDER BY 1""").fetchall()
        chunks = dict(con.execute(
            "SELECT summary_status, count(*) FROM chunks GROUP BY 1").fetchall())
    return {"runs": [dict(zip(("run_id", "calls", "seconds", "errors"), row, strict=True))
                     for row in calls], "chunks_by_summary_status": chunks}


def db_mb(db: Path) -> float:
    """Size of the results database with its write-ahead log, in MB."""
    wal = db.with_name(db.name + ".wal")
    return round((db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)) / 1e6, 2)


def db_counts(db: Path) -> dict[str, object]:
    """What the runs stored: statuses, chunks, near-duplicate links, the runs' own counts."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        statuses = dict(con.execute("""
            SELECT status, count(*) FROM documents WHERE is_current AND parent_doc_id IS NULL
            GROUP BY ALL ORDER BY ALL""").fetchall())
        attachments = con.execute(
            "SELECT count(*) FROM documents WHERE is_current AND parent_doc_id IS NOT NULL"
        ).fetchone()[0]
        chunks, boilerplate, duplicate_chunks = con.execute("""
            SELECT count(*), count(*) FILTER (WHERE is_boilerplate),
                   count(*) FILTER (WHERE duplicate_of_chunk IS NOT NULL) FROM chunks""").fetchone()
        near = con.execute("SELECT count(*) FROM near_duplicates").fetchone()[0]
        flags = con.execute("SELECT count(*) FROM flags").fetchone()[0]
        runs = con.execute("""
            SELECT status, files_seen, docs_new, docs_duplicate, docs_failed, chunks_new,
                   round(wall_seconds, 2)
            FROM runs ORDER BY started_at""").fetchall()
    return {"statuses": statuses, "attachments": attachments, "chunks": chunks,
            "boilerplate_chunks": boilerplate, "duplicate_chunks": duplicate_chunks,
            "near_duplicate_links": near, "flags": flags,
            "runs": [dict(zip(("status", "files_seen", "docs_new", "docs_duplicate",
                               "docs_failed", "chunks_new", "wall_seconds"), row, strict=True))
                     for row in runs]}


def measure(files: int, seed: int, dup_share: float, work: Path, force_rerun_flow: bool,
            startup_timeout: float, entities: bool = True,
            model_budget: float | None = None) -> dict[str, object]:
    """Generate a share of `files` files and run the pipeline on it twice.

    model_budget: summaries on, with the real local model, under that many seconds of local
    model time per run (default: summaries off).
    """
    model = (["--summarize", "all", "--local-budget-seconds", f"{model_budget:g}"]
             if model_budget is not None else [])
    share = work / "share"
    started = time.perf_counter()
    summary = generate_share(share, files, seed, dup_share, work / "manifest.json")
    generate_s = time.perf_counter() - started
    print(f"  {files} files generated in {generate_s:.1f} s: {summary['by_format']}, "
          f"{summary['by_role']}, {int(summary['bytes']) / 1e6:.1f} MB", flush=True)  # type: ignore[call-overload]
    db = work / "scale.duckdb"
    first = run_once(share, db, work, "first", model, startup_timeout, entities)
    print(f"  first run {first['seconds']} s, peak {first['peak_rss_mb']} MB", flush=True)
    db_first = db_mb(db)
    rerun = run_once(share, db, work, "rerun",
                     [*model, *(["--always-run-flow"] if force_rerun_flow else [])],
                     startup_timeout, entities)
    print(f"  re-run {rerun['seconds']} s, peak {rerun['peak_rss_mb']} MB", flush=True)
    return {"files": files, "entities": entities, "local_model_budget_s": model_budget,
            "local_model": local_model(db) if model_budget is not None else None,
            "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "generate_s": round(generate_s, 1), "share": summary,
            "first_run_s": first["seconds"], "rerun_s": rerun["seconds"],
            "rerun_flow_forced": force_rerun_flow,
            "peak_rss_mb": max(int(first["peak_rss_mb"]), int(rerun["peak_rss_mb"])),  # type: ignore[call-overload]
            "peak_rss_mb_first": first["peak_rss_mb"], "peak_rss_mb_rerun": rerun["peak_rss_mb"],
            "db_mb": db_mb(db), "db_mb_after_first": db_first,
            "stages_first": first["stages"], "stages_rerun": rerun["stages"],
            "stored": db_counts(db), "rerun_output": rerun["tail"]}


# ---------------------------------------------------------------------------- reporting


def markdown_table(results: dict[str, dict]) -> str:
    """The headline numbers, one row per size, then each size's stages of the first run."""
    sizes = sorted(results, key=int)
    lines = ["| files | first run s | re-run s | s/file (first) | peak RSS MB | DuckDB MB |",
             "|---:|---:|---:|---:|---:|---:|"]
    for size in sizes:
        row = results[size]
        lines.append(f"| {int(size):,} | {row['first_run_s']:.1f} | {row['rerun_s']:.1f} | "
                     f"{row['first_run_s'] / int(size):.3f} | {row['peak_rss_mb']:,} | "
                     f"{row['db_mb']:.1f} |")
    stages: list[str] = []
    for size in sizes:
        stages += [s for s in results[size]["stages_first"] if s not in stages]
    lines += ["", "| stage (first run), s | " + " | ".join(f"{int(s):,}" for s in sizes) + " |",
              "|---|" + "---:|" * len(sizes)]
    for stage in stages:
        cells = [results[s]["stages_first"].get(stage) for s in sizes]
        lines.append(f"| {stage} | " + " | ".join("" if c is None else f"{c:.2f}"
                                                    for c in cells) + " |")
    if len(sizes) > 1:
        low, high = sizes[0], sizes[-1]
        lines += ["", f"Growth exponent per stage between {int(low):,} and {int(high):,} files "
                  "(1 = linear; stages under 0.5 s at the larger size left out):", ""]
        for stage, exponent in growth(results, low, high).items():
            lines.append(f"- {stage}: {exponent:.2f}")
        target = str(int(high) * 10)
        if target not in results:
            total, by_stage = extrapolate(results, low, high, int(target))
            top = ", ".join(f"{stage} {seconds / 60:.0f} min" for stage, seconds in
                            sorted(by_stage.items(), key=lambda kv: -kv[1])[:4])
            lines += ["", f"Projected first run at {int(target):,} files (each growing stage "
                      "scaled by the larger of its growth exponent and 1): "
                      f"{total / 60:.0f} min ({top})."]
    return "\n".join(lines)


def extrapolate(results: dict[str, dict], low: str, high: str,
                target: int) -> tuple[float, dict[str, float]]:
    """The first run's seconds at `target` files, stage by stage, from the two sizes measured.

    A stage that grew with the share (exponent 0.5 or more) grows by
    (target/high)**max(1, exponent): never less than linear, because the smaller size's fixed
    costs would otherwise make it look sub-linear. The others (server start, imports) stay.
    """
    exponents = growth(results, low, high)
    by_stage = {stage: seconds * (target / int(high)) ** max(1.0, exponents[stage])
                if exponents.get(stage, 0.0) >= 0.5 else seconds
                for stage, seconds in results[high]["stages_first"].items()}
    return sum(by_stage.values()), by_stage


def growth(results: dict[str, dict], low: str, high: str) -> dict[str, float]:
    """log(cost ratio) / log(size ratio) for each stage of the first run."""
    import math

    out = {}
    ratio = math.log(int(high) / int(low))
    for stage, seconds in results[high]["stages_first"].items():
        before = results[low]["stages_first"].get(stage)
        if before and seconds >= 0.5:
            out[stage] = round(math.log(seconds / before) / ratio, 2)
    return out


def plot(results: dict[str, dict], path: Path) -> bool:
    """Per-stage seconds of the first run against files, log-log; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    sizes = sorted(results, key=int)
    figure, axes = plt.subplots(figsize=(9, 6))
    largest = results[sizes[-1]]["stages_first"]
    # Stages that take time at the largest size; the fixed ones (imports, server start) are
    # summed in the whole run's line.
    stages = {s for s, seconds in largest.items() if seconds >= 5}
    for stage in sorted(stages, key=lambda s: -largest[s]):
        points = [(int(s), results[s]["stages_first"][stage]) for s in sizes
                  if results[s]["stages_first"].get(stage, 0) > 0]
        if points:
            axes.plot(*zip(*points, strict=True), marker="o", label=stage)
    axes.plot([int(s) for s in sizes], [results[s]["first_run_s"] for s in sizes], "k--",
              marker="s", label="whole first run")
    entities = {results[s].get("entities", True) for s in sizes}
    names = ("person names on" if entities == {True} else "person names off"
             if entities == {False} else "person names on and off")
    axes.set(xscale="log", yscale="log", xlabel="documents (files)", ylabel="seconds",
             title=f"compliance run, first run: seconds per stage against share size ({names})")
    axes.legend(fontsize=8, loc="upper left")
    figure.savefig(path, dpi=120, bbox_inches="tight")
    return True


def main() -> None:
    """Measure the sizes asked for, merge them into the results file, print and plot."""
    argv = sys.argv[1:]
    if argv[:1] == ["--child"]:
        child(Path(argv[1]), argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--dup-share", type=float, default=0.2)
    parser.add_argument("--keep", type=Path, help="keep the shares and databases under DIR")
    parser.add_argument("--out", type=Path, default=RESULTS / "scale.json")
    parser.add_argument("--plot", type=Path, default=RESULTS / "scale.png")
    parser.add_argument("--force-rerun-flow", action="store_true",
                        help="re-run with --always-run-flow (every stage over unchanged files) "
                             "instead of the CLI's no-change shortcut")
    parser.add_argument("--prefect-startup-timeout-seconds", type=float, default=180)
    parser.add_argument("--report-only", action="store_true", help="print and plot the file")
    parser.add_argument("--without-entities", action="store_true",
                        help="leave out the rules that need spaCy's entity pass")
    parser.add_argument("--local-model-budget", type=float, metavar="SECONDS",
                        help="summaries on, with the real local model, under this local budget "
                             "per run (use another --out: the table is of fake-summarizer runs)")
    args = parser.parse_args(argv)
    results: dict[str, dict] = (json.loads(args.out.read_text()) if args.out.exists() else {})
    for files in [] if args.report_only else args.sizes:
        print(f"{files} files:", flush=True)
        work = (args.keep / str(files)) if args.keep else Path(tempfile.mkdtemp(
            prefix=f"scale-share-{files}-"))
        if work.exists() and args.keep:
            shutil.rmtree(work)
        work.mkdir(parents=True, exist_ok=True)
        try:
            results[str(files)] = measure(files, args.seed, args.dup_share, work,
                                          args.force_rerun_flow,
                                          args.prefect_startup_timeout_seconds,
                                          not args.without_entities,
                                          args.local_model_budget)
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(dict(sorted(results.items(), key=lambda kv: int(kv[0]))),
                                       indent=1) + "\n")
    print(markdown_table(results))
    if results:
        print(f"\nplot: {args.plot}" if plot(results, args.plot)
              else "\nno plot: matplotlib is not installed in this environment")


if __name__ == "__main__":
    main()
