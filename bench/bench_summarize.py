"""Local summarization: our path against raw llama-cpp-python, same machine, same run.

Both sides summarize the same chunks of data/samples with the same model, messages, schema and
decoding settings, in one process: the raw side calls `Llama.create_chat_completion` directly;
ours goes through `summarize_text` (lock, ledger callback, output validation and the extractive
fallback). Prints the ratio of times and the tokens each side generated; absolute seconds depend
on the machine.

    .venv/bin/python bench/bench_summarize.py [N_CHUNKS]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from compliance.adapters.local_llm import GENERATION_PARAMS, get_local_model
from compliance.adapters.model_registry import resolve_model
from compliance.extract.dispatch import extract_bytes
from tasks.summarize.booking import summarize_text
from tasks.summarize.prompts import CHUNK_SYSTEM_PROMPT, SUMMARY_SCHEMA
from tasks.summarize.results import LocalBudget

ROOT = Path(__file__).resolve().parent.parent


def sample_chunks(limit: int) -> list[str]:
    chunks: list[str] = []
    for path in sorted((ROOT / "data" / "samples").rglob("*")):
        if path.is_file():
            text = extract_bytes(path.read_bytes(), path.name).text
            chunks += [text[i:i + 1200] for i in range(0, len(text), 1200) if len(text[i:]) > 400]
    return chunks[:limit]


def main() -> None:
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    chunks = sample_chunks(limit)
    spec = resolve_model()
    model = get_local_model(spec)
    from llama_cpp import Llama

    raw = Llama(str(spec.path), n_ctx=spec.context_length, n_threads=2, seed=0, verbose=False,
                chat_format=spec.chat_format)
    raw_tokens = 0
    started = time.perf_counter()
    for chunk in chunks:
        response = raw.create_chat_completion(
            messages=[{"role": "system", "content": CHUNK_SYSTEM_PROMPT},
                      {"role": "user", "content": f'Excerpt:\n"""\n{chunk}\n"""'}],
            response_format={"type": "json_object", "schema": SUMMARY_SCHEMA},
            **GENERATION_PARAMS,
        )
        raw_tokens += response["usage"]["completion_tokens"]
    raw_seconds = time.perf_counter() - started
    budget = LocalBudget(None)
    ours_tokens = 0

    def book(**usage: object) -> None:
        nonlocal ours_tokens
        ours_tokens += int(usage.get("output_tokens", 0))  # type: ignore[arg-type]

    started = time.perf_counter()
    for chunk in chunks:
        summarize_text(model, chunk, CHUNK_SYSTEM_PROMPT, budget, book)
    ours_seconds = time.perf_counter() - started
    print(f"chunks: {len(chunks)}; tokens generated: raw {raw_tokens}, pipeline {ours_tokens}")
    print(f"raw llama-cpp-python: {raw_seconds:.1f} s; pipeline: {ours_seconds:.1f} s")
    print(f"ratio pipeline/raw: {ours_seconds / raw_seconds:.2f}")


if __name__ == "__main__":
    main()
