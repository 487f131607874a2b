"""Many chat completions decoded together: one llama.cpp batch holds a token of every sequence.

`BatchDecoder` runs on the weights of a loaded `Llama` (no second copy) with a context of its own
that holds `n_seq` sequences, one KV stream each (`kv_unified` off: each sequence attends only
to its own cells, laid out as the single-stream path lays them out). The prompt prefix that all
completions of a call share (the byte-identical system prompt) is decoded once, into sequence 0,
and copied to the other streams with `llama_memory_seq_cp`; a stream keeps it when its sequence
finishes and the next pending completion takes the stream over, and across calls while the
prefix stays the same.

What each sequence is asked is taken from llama-cpp-python itself, so it cannot drift from
`Llama.create_chat_completion`: that method runs with a stand-in for the `Llama` whose
`create_completion` records its arguments (prompt tokens from the chat format, the grammar of
the response format, the stop strings and sampling settings) instead of generating. Each
sequence then gets the sampler chain `Llama._init_sampler` builds for those settings (penalties
over the generated tokens only, grammar, greedy at temperature 0) and the stop rules of
`Llama._create_completion` (end-of-generation token, stop strings, `max_tokens`, the multibyte
hold-back), so its text and token counts are those of the single-stream call as long as the
logits are. They are not always: a decode of several sequences' tokens runs other ggml kernels
than the single path's one-token decodes, and a near tie can flip a greedy choice
(bench/bench_local_batch.py counts how often: 3 of 16 sample chunks at n_batch 512).

Not thread-safe: the caller holds the model's lock.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

# Settings of a completion the batched path does not reproduce: such a request is answered by
# the single-stream path instead.
_UNSUPPORTED = ("logits_processor", "stopping_criteria", "logit_bias", "logprobs", "suffix")


@dataclass
class BatchSettings:
    """How the batch context is sized: sequences decoded together, cells per sequence, batch."""

    n_seq: int = 16
    n_ctx_seq: int = 1024  # per sequence: prompt + max_tokens must fit, else single-stream
    n_batch: int = 512
    n_ubatch: int = 512
    n_threads: int | None = None  # None: the Llama's own


@dataclass
class Request:
    """One completion as `Llama.create_completion` would get it."""

    index: int
    prompt: list[int]
    kwargs: dict[str, Any]
    max_tokens: int = 0
    stop: list[bytes] = field(default_factory=list)


@dataclass
class BatchAnswer:
    """What one sequence produced."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


class _Captured(Exception):
    pass


class _Capture:
    """Stands in for a `Llama` inside its chat handler: everything but `create_completion`."""

    def __init__(self, llm: Any) -> None:
        self._llm = llm
        self.kwargs: dict[str, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llm, name)

    def create_completion(self, **kwargs: Any) -> Any:
        self.kwargs = kwargs
        raise _Captured


def capture_completion(llm: Any, messages: list[dict[str, str]], **chat_kwargs: Any,
                       ) -> dict[str, Any]:
    """The arguments `llm.create_chat_completion(messages, **chat_kwargs)` would pass on to
    `create_completion`: prompt tokens, grammar, stop, sampling settings."""
    from llama_cpp import Llama

    proxy = _Capture(llm)
    try:
        Llama.create_chat_completion(proxy, messages=messages, **chat_kwargs)  # type: ignore[arg-type]
    except _Captured:
        pass
    if proxy.kwargs is None:
        raise RuntimeError("the chat handler did not call create_completion")
    return proxy.kwargs


def batchable(kwargs: dict[str, Any]) -> bool:
    """Whether the batched path reproduces this completion (a token prompt, no streaming,
    none of the per-call hooks)."""
    if not isinstance(kwargs.get("prompt"), list) or not kwargs["prompt"]:
        return False
    if kwargs.get("stream"):
        return False
    return all(kwargs.get(name) in (None, False) for name in _UNSUPPORTED)


class _GreedyGrammar:
    """Sampling of a chain [penalties, grammar, greedy] that asks the grammar about one token.

    The chain would mask every token the grammar rejects and then take the first highest
    logit. Taking the first highest penalized logit and asking the grammar about that token
    alone picks the same token whenever the grammar accepts it (every earlier token is lower,
    every later one no higher, masked or not); only when it rejects it does the full chain run.
    This is llama.cpp's own `common_sampler` shortcut; the grammar's full pass over the
    vocabulary is most of a step's sampling time.
    """

    def __init__(self, n_vocab: int) -> None:
        import numpy as np

        self.np = np
        self.n_vocab = n_vocab
        self.data = np.zeros(n_vocab, dtype=[("id", np.int32), ("logit", np.float32),
                                             ("p", np.float32)])
        self.data["id"] = np.arange(n_vocab, dtype=np.int32)
        self.one = np.zeros(1, dtype=self.data.dtype)
        self.full_passes = 0
        self.shortcuts = 0

    @staticmethod
    def fits(chain: Any) -> bool:
        import llama_cpp

        names = [llama_cpp.llama_sampler_name(llama_cpp.llama_sampler_chain_get(chain, i))
                 for i in range(llama_cpp.llama_sampler_chain_n(chain))]
        return names == [b"penalties", b"grammar", b"greedy"]

    def _array(self, data: Any) -> Any:
        import llama_cpp

        return llama_cpp.llama_token_data_array(
            data=data.ctypes.data_as(llama_cpp.llama_token_data_p), size=len(data),
            selected=-1, sorted=False)

    def sample(self, chain: Any, ctx: Any, index: int) -> int:
        import ctypes

        import llama_cpp

        np = self.np
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, index),
                                       shape=(self.n_vocab,))
        self.data["logit"] = logits
        llama_cpp.llama_sampler_apply(llama_cpp.llama_sampler_chain_get(chain, 0),
                                      ctypes.byref(self._array(self.data)))
        token = int(np.argmax(self.data["logit"]))
        self.one["id"], self.one["logit"], self.one["p"] = token, 1.0, 0.0
        llama_cpp.llama_sampler_apply(llama_cpp.llama_sampler_chain_get(chain, 1),
                                      ctypes.byref(self._array(self.one)))
        if np.isfinite(self.one["logit"][0]):
            self.shortcuts += 1
            llama_cpp.llama_sampler_accept(chain, token)
            return token
        self.full_passes += 1
        return int(llama_cpp.llama_sampler_sample(chain, ctx, index))


class _Sequence:
    """One completion being decoded: its sampler, its tokens so far, its stop state."""

    def __init__(self, request: Request, sampler: Any) -> None:
        self.request = request
        self.sampler = sampler  # llama_cpp._internals.LlamaSampler, kept alive here
        self.shortcut = _GreedyGrammar.fits(sampler.sampler)
        self.completion: list[int] = []
        self.multibyte_fix = 0
        self.slot = -1
        self.n_past = 0
        self.feed: list[int] = []
        self.answer: BatchAnswer | None = None


def _common_prefix(prompts: list[list[int]]) -> int:
    first = prompts[0]
    n = min(len(p) for p in prompts)
    for other in prompts[1:]:
        i = 0
        while i < n and other[i] == first[i]:
            i += 1
        n = i
    return n


class BatchDecoder:
    """Decodes many completions together on a Llama's weights (see the module docstring)."""

    def __init__(self, llm: Any, settings: BatchSettings | None = None) -> None:
        import llama_cpp
        from llama_cpp import _internals

        self.llm = llm
        self.settings = s = settings or BatchSettings()
        params = llama_cpp.llama_context_default_params()
        # Everything that shapes the numbers as the Llama's own context has it.
        for name in ("rope_scaling_type", "pooling_type", "attention_type", "flash_attn_type",
                     "rope_freq_base", "rope_freq_scale", "yarn_ext_factor", "yarn_attn_factor",
                     "yarn_beta_fast", "yarn_beta_slow", "yarn_orig_ctx", "type_k", "type_v",
                     "offload_kqv", "op_offload", "swa_full", "no_perf"):
            setattr(params, name, getattr(llm.context_params, name))
        threads = s.n_threads or llm.context_params.n_threads
        params.n_ctx = s.n_ctx_seq * s.n_seq
        params.n_seq_max = s.n_seq
        params.kv_unified = False  # one KV stream per sequence
        params.n_batch = s.n_batch
        params.n_ubatch = min(s.n_batch, s.n_ubatch)
        params.n_threads = threads
        params.n_threads_batch = threads
        params.embeddings = False
        self._context = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
        self.ctx = self._context.ctx
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.n_seq = int(llama_cpp.llama_n_seq_max(self.ctx))
        self.n_ctx_seq = int(llama_cpp.llama_n_ctx_seq(self.ctx))
        self.vocab = llm._model.vocab
        self._greedy = _GreedyGrammar(llm._n_vocab)
        self._batch = llama_cpp.llama_batch_init(s.n_batch, 0, 1)
        self._prefix: list[int] = []  # tokens every stream holds in cells [0, len)
        self._prefix_slots = 0  # streams holding it
        self.last_shared = 0  # prompt tokens the last run's sequences shared
        self.stats: dict[str, float] = {"prefix_evals": 0, "prefix_tokens": 0,
                                        "tokens_decoded": 0, "decodes": 0, "decode_s": 0.0,
                                        "prompt_s": 0.0, "generate_s": 0.0, "sample_s": 0.0,
                                        "grammar_full_passes": 0, "grammar_shortcuts": 0}

    def close(self) -> None:
        import llama_cpp

        if self._batch is not None:
            llama_cpp.llama_batch_free(self._batch)
            self._batch = None
        self._context.close()

    def fits(self, request: Request) -> bool:
        """Whether the request's prompt and answer fit one sequence's cells (+4: the
        multibyte hold-back may run a few tokens past max_tokens)."""
        return len(request.prompt) + request.max_tokens + 4 <= self.n_ctx_seq

    def prepare(self, index: int, kwargs: dict[str, Any]) -> Request:
        """A request from captured `create_completion` arguments, with the settings
        `Llama._create_completion` derives from them."""
        llm = self.llm
        prompt = list(kwargs["prompt"])
        n_ctx = llm._n_ctx
        if len(prompt) >= n_ctx:
            raise ValueError(f"Requested tokens ({len(prompt)}) exceed context window of {n_ctx}")
        max_tokens = kwargs.get("max_tokens", 16)
        if max_tokens is None or max_tokens <= 0:
            max_tokens = n_ctx - len(prompt)
        if max_tokens + len(prompt) >= n_ctx:
            max_tokens = n_ctx - len(prompt)
        stop = kwargs.get("stop") or []
        stop = stop if isinstance(stop, list) else [stop]
        return Request(index, prompt, kwargs, max_tokens, [s.encode("utf-8") for s in stop])

    def _sampler(self, kwargs: dict[str, Any]) -> Any:
        """The chain `Llama.generate` would build for these settings (seeded as
        `_create_completion` seeds it)."""
        import random

        llm = self.llm
        seed = kwargs.get("seed")
        llm.set_seed(seed if seed is not None else random.Random(llm._seed).randint(0, 2**32))
        return llm._init_sampler(
            top_k=kwargs.get("top_k", 40), top_p=kwargs.get("top_p", 0.95),
            min_p=kwargs.get("min_p", 0.05), typical_p=kwargs.get("typical_p", 1.0),
            temp=kwargs.get("temperature", 0.8),
            repeat_penalty=kwargs.get("repeat_penalty", 1.0),
            frequency_penalty=kwargs.get("frequency_penalty", 0.0),
            presence_penalty=kwargs.get("presence_penalty", 0.0),
            tfs_z=kwargs.get("tfs_z", 1.0), mirostat_mode=kwargs.get("mirostat_mode", 0),
            mirostat_tau=kwargs.get("mirostat_tau", 5.0),
            mirostat_eta=kwargs.get("mirostat_eta", 0.1),
            grammar=kwargs.get("grammar"),
        )

    # -- decoding ------------------------------------------------------------------------------

    def _decode(self, entries: list[tuple[int, int, int, bool]], kind: str = "prompt") -> None:
        """One llama_decode of (token, pos, seq, wants logits) entries; its time is counted as
        `kind` ("prompt": it holds prompt tokens, "generate": only generated ones)."""
        import llama_cpp

        batch = self._batch
        for i, (token, pos, seq, logits) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = logits
        batch.n_tokens = len(entries)
        started = time.perf_counter()
        rc = llama_cpp.llama_decode(self.ctx, batch)
        elapsed = time.perf_counter() - started
        self.stats["decode_s"] += elapsed
        self.stats[f"{kind}_s"] += elapsed
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
        self.stats["decodes"] += 1
        self.stats["tokens_decoded"] += len(entries)

    def _load_prefix(self, prefix: list[int], slots: int) -> None:
        """Every one of the first `slots` streams holds `prefix` in cells [0, len(prefix))."""
        import llama_cpp

        mem = self.memory
        if prefix and prefix == self._prefix and slots <= self._prefix_slots:
            for slot in range(slots):
                llama_cpp.llama_memory_seq_rm(mem, slot, len(prefix), -1)
            return
        if prefix and prefix == self._prefix:  # more streams than last time: copy to the rest
            for slot in range(self._prefix_slots):
                llama_cpp.llama_memory_seq_rm(mem, slot, len(prefix), -1)
            start = self._prefix_slots
        else:
            llama_cpp.llama_memory_clear(mem, True)
            self._prefix, self._prefix_slots = [], 0
            if not prefix:
                return
            step = self.settings.n_batch
            for i in range(0, len(prefix), step):
                self._decode([(t, i + j, 0, False) for j, t in enumerate(prefix[i:i + step])])
            self.stats["prefix_evals"] += 1
            self.stats["prefix_tokens"] += len(prefix)
            start = 1
        for slot in range(start, slots):
            # Across streams a copy must be of the whole sequence (llama.cpp copies the stream).
            llama_cpp.llama_memory_seq_cp(mem, 0, slot, -1, -1)
        self._prefix, self._prefix_slots = list(prefix), max(slots, self._prefix_slots)

    def _advance(self, seq: _Sequence, token: int) -> bool:
        """`Llama._create_completion`'s handling of one sampled token; True when finished."""
        import llama_cpp

        llm, request = self.llm, seq.request
        if llama_cpp.llama_vocab_is_eog(self.vocab, token):
            return self._finish(seq, llm.detokenize(seq.completion, prev_tokens=request.prompt),
                                "stop")
        seq.completion.append(token)
        all_text = llm.detokenize(seq.completion, prev_tokens=request.prompt)
        for k, char in enumerate(all_text[-3:]):
            k = 3 - k
            for num, pattern in [(2, 192), (3, 224), (4, 240)]:
                if num > k and pattern & char == pattern:
                    seq.multibyte_fix = num - k
        if seq.multibyte_fix > 0:
            seq.multibyte_fix -= 1
            return False
        any_stop = [s for s in request.stop if s in all_text]
        if any_stop:
            return self._finish(seq, all_text[: all_text.index(any_stop[0])], "stop")
        if len(seq.completion) >= request.max_tokens:
            return self._finish(seq, llm.detokenize(seq.completion, prev_tokens=request.prompt),
                                "length")
        return False

    @staticmethod
    def _finish(seq: _Sequence, text: bytes, reason: str) -> bool:
        seq.answer = BatchAnswer(text.decode("utf-8", errors="ignore"), len(seq.request.prompt),
                                 len(seq.completion), reason)
        return True

    def _stop_all(self, sequences: list[_Sequence], shared: int) -> None:
        """End every unfinished sequence at the deadline with what it has (reason
        "deadline"); one never started counts the shared prefix as its prompt."""
        for seq in sequences:
            if seq.answer is None:
                text = self.llm.detokenize(seq.completion, prev_tokens=seq.request.prompt)
                seq.answer = BatchAnswer(text.decode("utf-8", errors="ignore"),
                                         max(shared, min(seq.n_past, len(seq.request.prompt))),
                                         len(seq.completion), "deadline")

    def _generate(self, sequences: list[_Sequence], shared: int, slots: int,
                  deadline: float | None = None) -> None:
        """Continuous batching: a finished sequence's stream (and its copy of the shared
        prefix) goes to the next waiting one. At `deadline` (a perf_counter time) every
        unfinished sequence stops, between two decodes."""
        import llama_cpp

        waiting = deque(sequences)
        free = list(range(slots - 1, -1, -1))
        active: list[_Sequence] = []
        budget = self.settings.n_batch
        mem = self.memory
        while waiting or active:
            if deadline is not None and time.perf_counter() >= deadline:
                self._stop_all(sequences, shared)
                return
            while free and waiting:
                seq = waiting.popleft()
                seq.slot = free.pop()
                llama_cpp.llama_memory_seq_rm(mem, seq.slot, shared, -1)
                seq.n_past = shared
                seq.feed = list(seq.request.prompt[shared:])
                active.append(seq)
            # One token of each generating sequence first, then prompt tokens as room allows.
            entries: list[tuple[int, int, int, bool]] = []
            sampled: list[tuple[_Sequence, int]] = []
            has_prompt = False
            for seq in sorted(active, key=lambda s: len(s.feed) > 1):
                room = budget - len(entries)
                if room <= 0:
                    break
                take = seq.feed[:room]
                has_prompt = has_prompt or seq.n_past < len(seq.request.prompt)
                done_feeding = len(take) == len(seq.feed)
                for j, token in enumerate(take):
                    last = done_feeding and j == len(take) - 1
                    if last:
                        sampled.append((seq, len(entries)))
                    entries.append((token, seq.n_past + j, seq.slot, last))
                seq.n_past += len(take)
                seq.feed = seq.feed[len(take):]
            self._decode(entries, "prompt" if has_prompt else "generate")
            started = time.perf_counter()
            for seq, index in sampled:
                if seq.shortcut:
                    token = self._greedy.sample(seq.sampler.sampler, self.ctx, index)
                else:
                    token = llama_cpp.llama_sampler_sample(seq.sampler.sampler, self.ctx, index)
                finished = self._advance(seq, token)
                if not finished and seq.n_past >= self.n_ctx_seq:
                    # Out of cells (only a long run of multibyte hold-backs past max_tokens
                    # gets here): ends as at max_tokens, where the single path would go on.
                    finished = self._finish(seq, self.llm.detokenize(seq.completion), "length")
                if finished:
                    active.remove(seq)
                    free.append(seq.slot)
                else:
                    seq.feed = [token]
            self.stats["sample_s"] += time.perf_counter() - started

    def run(self, requests: list[Request], deadline: float | None = None) -> list[BatchAnswer]:
        """Decode every request (each must `fit`); answers in the order of `requests`. Those
        unfinished at `deadline` (a perf_counter time) end with finish_reason "deadline"."""

        self.last_shared = 0
        if not requests:
            return []
        for request in requests:
            if not self.fits(request):
                raise ValueError(f"request {request.index} does not fit {self.n_ctx_seq} cells")
        prompts = [r.prompt for r in requests]
        shared = _common_prefix(prompts)
        cached = self._prefix
        if cached and len(cached) < shared and prompts[0][:len(cached)] == cached:
            shared = len(cached)  # one request, or a longer match: keep the stored prefix
        # Each sequence decodes at least two tokens of its own: its logits then come from a
        # multi-token batch, as the single path's first logits do (a batch of one token
        # takes other kernels in ggml and can differ in the last bits, enough to flip a choice).
        shared = max(0, min(shared, min(len(p) for p in prompts) - 2))
        self.last_shared = shared
        slots = min(self.n_seq, len(requests))
        self._load_prefix(prompts[0][:shared], slots)

        sequences = [_Sequence(r, self._sampler(r.kwargs)) for r in requests]
        try:
            self._generate(sequences, shared, slots, deadline)
        except BaseException:
            self._prefix, self._prefix_slots = [], 0  # the streams' contents are unknown now
            raise
        finally:
            for seq in sequences:
                seq.sampler.close()
        self.stats["grammar_full_passes"] = self._greedy.full_passes
        self.stats["grammar_shortcuts"] = self._greedy.shortcuts
        answers = [seq.answer for seq in sequences]
        assert all(a is not None for a in answers)
        return answers  # type: ignore[return-value]
