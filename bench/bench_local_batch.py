"""Batched local decoding against raw single-stream llama-cpp-python, same chunks, same process.

The raw side calls `Llama.create_chat_completion` once per chunk (its KV cache keeps the shared
system prompt between calls, as in production); the batched side sends all chunks to
`LocalModel.complete_json_many`, which decodes up to `--n-seq` of them per llama.cpp batch with
the system prompt decoded once. Same model, messages, schema and greedy settings. Prints, per
side, the wall seconds and throughput (prompt tokens as each call counts them, and generated
tokens, per wall second), the ratio, and how many answers are byte-identical to the raw ones.

    .venv/bin/python bench/bench_local_batch.py [--chunks 16] [--reps 3] [--threads 1,2]
        [--n-seq 4,8,16] [--n-batch 128,512] [--raw-threads 1,2]

Sides run one after another within each repetition, so a change in the machine's load hits
them alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_summarize import sample_chunks  # noqa: E402
from compliance.adapters.local_batch import BatchSettings  # noqa: E402
from compliance.adapters.local_llm import GENERATION_PARAMS, LocalModel  # noqa: E402
from compliance.adapters.model_registry import resolve_model  # noqa: E402
from tasks.summarize.prompts import CHUNK_SYSTEM_PROMPT, SUMMARY_SCHEMA  # noqa: E402


def messages_for(chunk: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": CHUNK_SYSTEM_PROMPT},
            {"role": "user", "content": f'Excerpt:\n"""\n{chunk}\n"""'}]


class RawSide:
    """Raw llama-cpp-python: one create_chat_completion per chunk."""

    def __init__(self, spec, threads: int) -> None:
        from llama_cpp import Llama

        self.name = f"raw single-stream t={threads}"
        self.llm = Llama(str(spec.path), n_ctx=spec.context_length, n_threads=threads,
                         n_threads_batch=threads, seed=0, verbose=False,
                         chat_format=spec.chat_format)

    def run(self, messages):
        import llama_cpp

        llama_cpp.llama_perf_context_reset(self.llm._ctx.ctx)
        outputs, prompt, generated = [], 0, 0
        for m in messages:
            response = self.llm.create_chat_completion(
                messages=m, response_format={"type": "json_object", "schema": SUMMARY_SCHEMA},
                **GENERATION_PARAMS)
            outputs.append(response["choices"][0]["message"]["content"])
            prompt += response["usage"]["prompt_tokens"]
            generated += response["usage"]["completion_tokens"]
        perf = llama_cpp.llama_perf_context(self.llm._ctx.ctx)
        self.split = (perf.t_p_eval_ms / 1000, perf.n_p_eval, perf.t_eval_ms / 1000, perf.n_eval)
        return outputs, prompt, generated

    def close(self) -> None:
        self.llm.close()


class BatchSide:
    """Our path: every chunk in one `complete_json_many` call."""

    def __init__(self, spec, settings: BatchSettings, messages) -> None:
        self.name = f"batched n_seq={settings.n_seq} t={settings.n_threads} b={settings.n_batch}"
        self.model = LocalModel(spec)
        self.model.batch_settings = settings
        self.model.complete_json_many(messages[:1], SUMMARY_SCHEMA)  # load weights and context

    def run(self, messages):
        before = dict(self.model._decoder.stats) if self.model._decoder else {}
        completions = self.model.complete_json_many(messages, SUMMARY_SCHEMA)
        after = self.model._decoder.stats if self.model._decoder else {}
        delta = {k: after[k] - before.get(k, 0) for k in after}
        generated = sum(c.completion_tokens for c in completions)
        decoded = delta.get("tokens_decoded", 0)
        self.split = (delta.get("prompt_s", 0.0), decoded - generated,
                      delta.get("generate_s", 0.0), generated)
        return ([c.content for c in completions], sum(c.prompt_tokens for c in completions),
                sum(c.completion_tokens for c in completions))

    def close(self) -> None:
        self.model.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=16)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=str, default="1")
    parser.add_argument("--raw-threads", type=str, default="1")
    parser.add_argument("--n-seq", type=str, default="16")
    parser.add_argument("--n-batch", type=str, default="512")
    args = parser.parse_args()
    spec = resolve_model()
    messages = [messages_for(c) for c in sample_chunks(args.chunks)]
    print(f"chunks: {len(messages)}; repetitions: {args.reps}, interleaved (median shown)")
    sides = [RawSide(spec, int(t)) for t in args.raw_threads.split(",")]
    n_raw = len(sides)
    for threads in (int(t) for t in args.threads.split(",")):
        for n_seq in (int(n) for n in args.n_seq.split(",")):
            for n_batch in (int(b) for b in args.n_batch.split(",")):
                sides.append(BatchSide(spec, BatchSettings(n_seq=n_seq, n_batch=n_batch,
                                                           n_ubatch=n_batch, n_threads=threads),
                                       messages))
    walls: dict[str, list[float]] = {side.name: [] for side in sides}
    results: dict[str, tuple] = {}
    for rep in range(args.reps):
        for side in sides:
            started = time.perf_counter()
            results[side.name] = side.run(messages)
            walls[side.name].append(time.perf_counter() - started)
            print(f"  rep {rep + 1}: {side.name}: {walls[side.name][-1]:.1f} s", flush=True)
    raw_outputs = results[sides[0].name][0]
    best_raw = min(statistics.median(walls[side.name]) for side in sides[:n_raw])
    print(f"{'side':<28} {'median s':>9} {'prompt tok/s':>13} {'gen tok/s':>10} "
          f"{'x best raw':>11} {'identical':>10}  runs")
    for side in sides:
        outputs, prompt, generated = results[side.name]
        wall = statistics.median(walls[side.name])
        same = sum(a == b for a, b in zip(outputs, raw_outputs, strict=True))
        runs = ", ".join(f"{w:.1f}" for w in walls[side.name])
        print(f"{side.name:<28} {wall:9.1f} {prompt / wall:13.1f} {generated / wall:10.1f} "
              f"{best_raw / wall:11.2f} {same:>5}/{len(messages):<4}  {runs}")
    print("last repetition, where the time went (decode of prompt tokens / of generated tokens;"
          " a batched decode holding any prompt token counts as prompt):")
    for side in sides:
        p_s, p_n, g_s, g_n = side.split
        print(f"  {side.name:<28} prompt {p_n} tok in {p_s:.1f} s ({p_n / max(p_s, 1e-9):.0f}"
              f" tok/s); generated {g_n} tok in {g_s:.1f} s ({g_n / max(g_s, 1e-9):.0f} tok/s);"
              f" rest (sampling, grammar, Python) {walls[side.name][-1] - p_s - g_s:.1f} s")
    for side in sides:
        side.close()


if __name__ == "__main__":
    main()
