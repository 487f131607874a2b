"""Cloud spend side by side: what the pipeline paid against a naive pipeline, per corpus and
escalation mode, on the local fake Anthropic API (tests/fake_anthropic.py).

    .venv/bin/python bench/bench_cost.py [--json F] [--contracts 31]

For each corpus (data/samples; the CUAD dev contracts as text files) and each mode (sync,
batch), on a fresh database: a first run, then a second run after every text document was
edited (a line appended: new versions whose unchanged passages the cross-run cache answers).
Each run is the real CLI (summaries off: local model time is not what is compared; the audit
sample on at its default). Read back from the `runs` table and the `cache_efficiency` view:
spend, the `naive_new` counterfactual (one synchronous request per chunk of every new version),
the saving, the share of chunks escalated, and the escalation cache hit rate. Prices are the
versioned price table's; the fake server bills tokens by its own count, so the dollars are
the pipeline's arithmetic on realistic usage, not an invoice.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compliance.environment import DEV_DATA, SAMPLES_DIR  # noqa: E402
from tests.fake_anthropic import FakeAnthropicServer  # noqa: E402

KEY = "sk-ant-bench-COST-0123456789abcdef"
EDITABLE = {".txt", ".md", ".html", ".eml"}


def contracts_folder(folder: Path, limit: int) -> Path:
    """The CUAD dev contracts as text files."""
    folder.mkdir(parents=True)
    for number, line in enumerate(DEV_DATA.read_text().splitlines()[:limit]):
        (folder / f"contract-{number:02d}.txt").write_text(json.loads(line)["text"])
    return folder


def edit_texts(folder: Path) -> int:
    """Append a line to every text-like file: a new version of each, mostly unchanged."""
    edited = 0
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in EDITABLE:
            with path.open("a", encoding="utf-8") as out:
                out.write("\nRevised on review; no other change.\n")
            edited += 1
    return edited


def run(source: Path, db: Path, mode: str, base_url: str, work: Path) -> dict[str, object]:
    """One CLI run; the run's row of spend, counterfactual and cache figures."""
    env = {**os.environ, "ANTHROPIC_API_KEY": KEY, "PREFECT_HOME": str(work / "prefect-home"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    subprocess.run([sys.executable, "-m", "compliance.cli.main", "run", str(source), "--db",
                    str(db), "--escalation", mode, "--anthropic-base-url", base_url,
                    "--summarize", "off", "--no-progress"],
                   check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(
            """
            SELECT r.chunks_new, r.chunks_escalated, r.spend_usd, r.naive_new_usd,
                   c.escalation_windows_sent, c.escalation_windows_cached, c.escalation_hit_rate,
                   c.cache_saved_usd
            FROM runs r JOIN cache_efficiency c USING (run_id)
            ORDER BY r.started_at DESC LIMIT 1
            """).fetchone()
        # Why windows were created in this run: triage, or the audit sample of unflagged text
        # (drawn afresh every run to estimate recall, so never a cache hit by design).
        created = dict(con.execute(
            """
            SELECT CASE WHEN w.audit_band IS NULL THEN 'triage' ELSE 'audit' END, count(*)
            FROM escalation_windows w
            WHERE w.run_id = (SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1)
            GROUP BY ALL
            """).fetchall())
    chunks, escalated, spend, naive, sent, cached, hit_rate, saved = row
    spend = float(spend or 0)
    naive = float(naive or 0)
    return {"chunks": chunks, "chunks_escalated": escalated,
            "escalation_share": round(escalated / chunks, 4) if chunks else None,
            "spend_usd": round(spend, 6), "naive_new_usd": round(naive, 6),
            "saved_vs_naive_new": round(1 - spend / naive, 4) if naive else None,
            "windows_sent": sent, "windows_cached": cached,
            "cache_hit_rate": None if hit_rate is None else round(float(hit_rate), 4),
            "cache_saved_usd": round(float(saved or 0), 6),
            "windows_created": {"triage": created.get("triage", 0),
                                "audit": created.get("audit", 0)}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contracts", type=int, default=31)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    figures: dict[str, dict[str, dict[str, object]]] = {}
    work = Path(tempfile.mkdtemp(prefix="bench-cost-"))
    try:
        with FakeAnthropicServer(api_key=KEY) as server:
            for corpus in ("samples", "cuad_dev"):
                for mode in ("sync", "batch"):
                    here = work / f"{corpus}-{mode}"
                    source = here / "inbox"
                    if corpus == "samples":
                        shutil.copytree(SAMPLES_DIR, source)
                    else:
                        contracts_folder(source, args.contracts)
                    db = here / "results.duckdb"
                    first = run(source, db, mode, server.base_url, here)
                    edited = edit_texts(source)
                    second = run(source, db, mode, server.base_url, here)
                    figures.setdefault(corpus, {})[mode] = {
                        "first_run": first, "after_edits": second, "files_edited": edited}
                    print(f"{corpus} {mode}: first ${first['spend_usd']:.4f} vs naive "
                          f"${first['naive_new_usd']:.4f}; after {edited} edits "
                          f"${second['spend_usd']:.4f}, cache hit rate "
                          f"{second['cache_hit_rate']}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| corpus | mode | run | chunks | escalated | spend $ | naive_new $ | saved | "
          "cache hit rate |")
    print("|---|---|---|--:|--:|--:|--:|--:|--:|")
    for corpus, modes in figures.items():
        for mode, runs in modes.items():
            for label in ("first_run", "after_edits"):
                r = runs[label]
                share = "-" if r["escalation_share"] is None else f"{r['escalation_share']:.1%}"
                saved = "-" if r["saved_vs_naive_new"] is None else f"{r['saved_vs_naive_new']:.1%}"
                hit = "-" if r["cache_hit_rate"] is None else f"{r['cache_hit_rate']:.0%}"
                print(f"| {corpus} | {mode} | {label.replace('_', ' ')} | {r['chunks']} | "
                      f"{r['chunks_escalated']} ({share}) | {r['spend_usd']:.4f} | "
                      f"{r['naive_new_usd']:.4f} | {saved} | {hit} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
