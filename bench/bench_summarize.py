"""Local summarization: our path against raw llama-cpp-python, same machine, same run.

Both sides summarize the same chunks of data/samples with the same model and settings. The raw
side builds a fresh prompt per call with the chunk first (no shared prefix, as a naive caller
would); ours keeps the system prompt as a byte-identical prefix so llama.cpp reuses its KV cache,
and adds output validation. Prints the ratio of times; absolute seconds depend on the machine.

    .venv/bin/python bench/bench_summarize.py [N_CHUNKS]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from compliance.local_llm import GENERATION_PARAMS, get_local_model
from compliance.model_registry import resolve_model
from tasks.extract import extract_bytes
from tasks.summarize import CHUNK_SYSTEM_PROMPT, SUMMARY_SCHEMA, LocalBudget, summarize_text

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

    raw = Llama(str(spec.path), n_ctx=spec.context_length, n_threads=2, seed=0, verbose=False)
    started = time.perf_counter()
    for chunk in chunks:
        # A naive caller: the variable text first, instructions after it.
        raw.create_chat_completion(
            messages=[{"role": "user", "content": f"{chunk}\n\n{CHUNK_SYSTEM_PROMPT}"}],
            response_format={"type": "json_object", "schema": SUMMARY_SCHEMA},
            **GENERATION_PARAMS,
        )
    raw_seconds = time.perf_counter() - started
    budget = LocalBudget(None)
    started = time.perf_counter()
    for chunk in chunks:
        summarize_text(model, chunk, CHUNK_SYSTEM_PROMPT, budget, lambda **_: None)
    ours_seconds = time.perf_counter() - started
    print(f"chunks: {len(chunks)}")
    print(f"raw llama-cpp-python: {raw_seconds:.1f} s; pipeline: {ours_seconds:.1f} s")
    print(f"ratio pipeline/raw: {ours_seconds / raw_seconds:.2f}")


if __name__ == "__main__":
    main()
