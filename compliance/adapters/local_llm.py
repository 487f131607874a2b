"""The local GGUF model: one llama.cpp instance per process, created lazily, used under a lock."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from compliance.adapters.local_batch import (
    BatchDecoder,
    BatchSettings,
    batchable,
    capture_completion,
)
from compliance.adapters.model_registry import ModelSpec, verify_model_file
from compliance.environment import llm_threads

# Decoding settings are part of the summary cache key: change them and summaries are recomputed.
GENERATION_PARAMS: dict[str, Any] = {
    "temperature": 0.0,
    "top_k": 1,
    "repeat_penalty": 1.3,
    "max_tokens": 220,
    "seed": 0,
}


@dataclass
class Completion:
    """One model answer with what it cost."""

    content: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    cpu_seconds: float
    stopped: bool = False  # cut off at its deadline: the content is unfinished


def _threads() -> int:
    return llm_threads()


class LocalModel:
    """A llama.cpp model. Not thread-safe underneath, so every call takes the lock."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        self._llm: Any = None
        self._vocab: Any = None
        self._decoder: BatchDecoder | None = None
        self.batch_settings = BatchSettings()
        self.loads = 0  # times the weights were loaded in this process (once, unless closed)

    def _load_vocab(self) -> Any:
        if self._vocab is None:
            from llama_cpp import Llama

            self._vocab = Llama(str(self.spec.path), vocab_only=True, verbose=False)
        return self._vocab

    def _load(self) -> Any:
        if self._llm is None:
            from llama_cpp import Llama

            self._llm = Llama(
                str(self.spec.path),
                n_ctx=self.spec.context_length,
                n_threads=_threads(),
                n_batch=512,
                seed=0,
                verbose=False,
                chat_format=self.spec.chat_format,
            )
            self.loads += 1
        return self._llm

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Token counts with the model's own tokenizer (no special tokens)."""
        with self._lock:
            vocab = self._load_vocab()
            return [
                len(vocab.tokenize(t.encode("utf-8"), add_bos=False, special=False)) if t else 0
                for t in texts
            ]

    def complete_json(self, messages: list[dict[str, str]], schema: dict,
                      params: dict[str, Any] | None = None,
                      deadline_seconds: float | None = None) -> Completion:
        """A chat completion constrained to a JSON schema by llama.cpp's grammar.

        With `deadline_seconds`, generation stops at the first token past that many seconds
        from the call's start (the prompt's evaluation is not interrupted) and the completion
        says it was `stopped`.
        """
        settings = {**GENERATION_PARAMS, **(params or {})}
        chat_kwargs = {"response_format": {"type": "json_object", "schema": schema}, **settings}
        with self._lock:
            return self._complete_unlocked(self._load(), messages, chat_kwargs,
                                           deadline_seconds)

    def complete_json_many(self, messages_list: list[list[dict[str, str]]], schema: dict,
                           params: dict[str, Any] | None = None,
                           deadline_seconds: float | None = None) -> list[Completion]:
        """`complete_json` of each message list, decoded together (see `local_batch`).

        Same prompt tokens, grammar, sampler chain and stop rules per completion as
        `complete_json`, and the same token counts (the shared system prompt is counted in every
        prompt, as the single call counts it). The answers are the single calls' answers as long
        as the batched logits pick the same greedy tokens (see the bench for how often they do
        not). A completion whose prompt and answer do not fit one sequence of the batch context
        goes through `complete_json`'s path, after the batch.

        Time: the batch's wall and CPU seconds are shared out in proportion to the tokens decoded
        for each completion (its own prompt tokens after the shared prefix, plus the prefix split
        evenly, plus its answer); a completion run singly gets its own measured time. The sum is
        the call's time, so a budget charged per completion is charged the real total.

        `deadline_seconds` bounds the whole call: what is unfinished then stops between two
        decodes (a completion not yet begun is `stopped` without a call).
        """
        if not messages_list:
            return []
        settings = {**GENERATION_PARAMS, **(params or {})}
        chat_kwargs = {"response_format": {"type": "json_object", "schema": schema}, **settings}
        results: list[Completion | None] = [None] * len(messages_list)
        with self._lock:
            llm = self._load()
            started, cpu_started = time.perf_counter(), time.process_time()
            deadline = None if deadline_seconds is None else started + deadline_seconds
            if self._decoder is None:
                self._decoder = BatchDecoder(llm, self.batch_settings)
            decoder = self._decoder
            requests, singles = [], []
            for index, messages in enumerate(messages_list):
                captured = capture_completion(llm, messages, **chat_kwargs)
                request = decoder.prepare(index, captured) if batchable(captured) else None
                if request is not None and decoder.fits(request):
                    requests.append(request)
                else:
                    singles.append(index)
            answers = decoder.run(requests, deadline)
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started
            decoded = [a.prompt_tokens - decoder.last_shared + a.completion_tokens
                       + decoder.last_shared / len(answers) for a in answers]
            total = sum(decoded) or 1.0
            for request, answer, weight in zip(requests, answers, decoded, strict=True):
                share = weight / total
                results[request.index] = Completion(
                    answer.text, answer.prompt_tokens, answer.completion_tokens,
                    seconds * share, cpu_seconds * share, answer.finish_reason == "deadline")
            for index in singles:
                left = None if deadline is None else deadline - time.perf_counter()
                results[index] = (Completion("", 0, 0, 0.0, 0.0, stopped=True)
                                  if left is not None and left <= 0 else
                                  self._complete_unlocked(llm, messages_list[index],
                                                          chat_kwargs, left))
        return [r for r in results if r is not None]

    @staticmethod
    def _complete_unlocked(llm: Any, messages: list[dict[str, str]],
                           chat_kwargs: dict[str, Any],
                           deadline_seconds: float | None = None) -> Completion:
        """One single-stream completion, timed; the caller holds the lock."""
        from llama_cpp import StoppingCriteriaList

        started, cpu_started = time.perf_counter(), time.process_time()
        stopped = False
        if deadline_seconds is None:
            response = llm.create_chat_completion(messages=messages, **chat_kwargs)
            content = response["choices"][0]["message"]["content"] or ""
        else:
            deadline = started + deadline_seconds

            def past_deadline(_tokens: Any, _logits: Any) -> bool:
                nonlocal stopped
                stopped = stopped or time.perf_counter() >= deadline
                return stopped

            # The chat call takes no stopping criteria: make the completion it would make
            # (same prompt tokens, grammar and settings), with one.
            completion_kwargs = capture_completion(llm, messages, **chat_kwargs)
            response = llm.create_completion(**{
                **completion_kwargs, "stopping_criteria": StoppingCriteriaList([past_deadline])})
            content = response["choices"][0]["text"] or ""
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        usage = response.get("usage", {})
        return Completion(
            content=content,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            seconds=seconds,
            cpu_seconds=cpu_seconds,
            stopped=stopped,
        )

    def close(self) -> None:
        """Free the weights now (they load again on next use)."""
        with self._lock:
            if self._decoder is not None:
                self._decoder.close()
                self._decoder = None
            for llm in (self._llm, self._vocab):
                if llm is not None:
                    llm.close()
            self._llm = self._vocab = None


_models: dict[str, LocalModel] = {}
_models_lock = threading.Lock()
_verified: set[tuple[str, str]] = set()


def get_local_model(spec: ModelSpec) -> LocalModel:
    """The process's instance for a model file (weights load on first use)."""
    key = str(spec.path)
    with _models_lock:
        model = _models.get(key)
        if model is None:
            model = _models[key] = LocalModel(spec)
        return model


def get_verified_model(spec: ModelSpec) -> LocalModel:
    """The process's instance, after checking the file's sha256 once per process.

    A Dask worker on another machine gets the spec by value: this fails clearly when its copy
    of the model file is missing or not the same bytes.
    """
    key = (str(spec.path), spec.sha256)
    with _models_lock:
        verified = key in _verified
    if not verified:
        verify_model_file(spec)
        with _models_lock:
            _verified.add(key)
    return get_local_model(spec)


def close_models() -> None:
    """Free every model this process loaded (before interpreter exit: llama-cpp-python's
    finalizers print 'Exception ignored' when they run while modules are torn down)."""
    with _models_lock:
        models = list(_models.values())
        _models.clear()
    for model in models:
        model.close()
