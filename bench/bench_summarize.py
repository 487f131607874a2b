"""Local summarization: the stage's paths against raw llama-cpp-python, same machine, same run.

Every side summarizes the same chunks of data/samples with the same model, messages, schema and
decoding settings, in one process: the raw side calls `Llama.create_chat_completion` once per
chunk (single stream); the stage's one-at-a-time path goes through `summarize_text` (lock,
ledger callback, output validation, extractive fallback); the batched path goes through the
stage's `BatchedCalls` (what `--local-batch-size N` uses) and the same booking. Sides alternate
within each repetition so the machine's load hits them alike. Prints the median seconds (and
spread), throughput in prompt and generated tokens per second, the ratios to raw, and how many
answers are byte-identical to raw's.

    .venv/bin/python bench/bench_summarize.py [--chunks 16] [--reps 3] [--batch 16]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from compliance.adapters.local_llm import GENERATION_PARAMS, get_local_model
from compliance.adapters.model_registry import resolve_model
from compliance.environment import llm_threads
from compliance.extract.dispatch import extract_bytes
from tasks.summarize.booking import account_call, summarize_text
from tasks.summarize.calls import BatchedCalls
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


class Tally:
    """Tokens and answers of one side's pass over the chunks."""

    def __init__(self) -> None:
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.answers: list[str] = []

    def book(self, **usage: object) -> None:
        self.prompt_tokens += int(usage.get("input_tokens", 0))  # type: ignore[arg-type]
        self.completion_tokens += int(usage.get("output_tokens", 0))  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=16)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16, help="the batched side's batch size")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    chunks = sample_chunks(args.chunks)
    spec = resolve_model()
    model = get_local_model(spec)
    from llama_cpp import Llama

    raw = Llama(str(spec.path), n_ctx=spec.context_length, n_threads=llm_threads(), seed=0,
                verbose=False, chat_format=spec.chat_format)

    def messages(chunk: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": CHUNK_SYSTEM_PROMPT},
                {"role": "user", "content": f'Excerpt:\n"""\n{chunk}\n"""'}]

    def raw_side(tally: Tally) -> None:
        for chunk in chunks:
            response = raw.create_chat_completion(
                messages=messages(chunk),
                response_format={"type": "json_object", "schema": SUMMARY_SCHEMA},
                **GENERATION_PARAMS)
            tally.prompt_tokens += response["usage"]["prompt_tokens"]
            tally.completion_tokens += response["usage"]["completion_tokens"]
            tally.answers.append(response["choices"][0]["message"]["content"] or "")

    def single_side(tally: Tally) -> None:
        budget = LocalBudget(None)
        for chunk in chunks:
            draft = summarize_text(model, chunk, CHUNK_SYSTEM_PROMPT, budget, tally.book)
            tally.answers.append(json.dumps(draft.summary if draft else None))

    def batched_side(tally: Tally) -> None:
        budget = LocalBudget(None)
        calls = BatchedCalls(spec, window=args.batch)
        for start in range(0, len(chunks), args.batch):
            part = chunks[start:start + args.batch]
            handles = [calls.submit(CHUNK_SYSTEM_PROMPT, chunk) for chunk in part]
            for chunk, handle in zip(part, handles, strict=True):
                call = handle.result()
                account_call(call, chunk, budget, tally.book)
                tally.answers.append(call.content or "")

    sides: dict[str, Callable[[Tally], None]] = {
        "raw llama-cpp-python": raw_side, "stage, one at a time": single_side,
        f"stage, batched ({args.batch})": batched_side}
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    tallies: dict[str, Tally] = {}
    for rep in range(args.reps):
        order = list(sides) if rep % 2 == 0 else list(reversed(sides))
        for name in order:
            side = sides[name]
            tally = Tally()
            started = time.perf_counter()
            side(tally)
            seconds[name].append(time.perf_counter() - started)
            tallies[name] = tally
    raw_name = next(iter(sides))
    raw_median = statistics.median(seconds[raw_name])
    raw_answers = tallies[raw_name].answers
    figures = {}
    print(f"{len(chunks)} chunks, {args.reps} repetitions, {llm_threads()} threads; "
          "median (spread) seconds")
    print("| side | seconds | prompt tok/s | generated tok/s | throughput vs raw | same as raw |")
    print("|---|--:|--:|--:|--:|--:|")
    for name in sides:
        median = statistics.median(seconds[name])
        spread = max(seconds[name]) - min(seconds[name])
        tally = tallies[name]
        same = (sum(a == b for a, b in zip(tally.answers, raw_answers, strict=True))
                if name != "stage, one at a time" else None)
        figures[name] = {"median_s": median, "spread_s": spread,
                         "prompt_tokens": tally.prompt_tokens,
                         "completion_tokens": tally.completion_tokens,
                         "throughput_vs_raw": raw_median / median, "same_as_raw": same}
        print(f"| {name} | {median:.1f} ({spread:.1f}) | {tally.prompt_tokens / median:.0f} | "
              f"{tally.completion_tokens / median:.0f} | {raw_median / median:.2f} | "
              f"{'-' if same is None else f'{same}/{len(chunks)}'} |")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
