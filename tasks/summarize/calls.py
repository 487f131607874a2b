"""Local model calls as plain data: what a call returns, where calls run, and one call in process.

The chunk loop and the document reduce only see `ModelCalls`: whether a call runs at once in
this process (`InProcessCalls`) or as a task run on a Prefect/Dask worker (`executors`) is the
caller's choice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from compliance.adapters.local_llm import LocalModel, get_verified_model
from compliance.adapters.model_registry import ModelSpec
from tasks.summarize.prompts import SUMMARY_SCHEMA
from tasks.workers import worker_label


@dataclass
class ModelCall:
    """What one local model call returned: plain data, so it travels back from any worker."""

    content: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    error: str | None = None
    worker: str = ""
    model_loads: int = 0
    stopped: bool = False  # cut off at its deadline (the local budget): nothing to store


class PendingCall(Protocol):
    """A model call in flight (a Prefect future, or one already done)."""

    def result(self) -> ModelCall:
        """Wait for the call and return what it gave."""
        ...


class ModelCalls(Protocol):
    """Where model calls run: `submit` sends a text by value; `window` calls may be in flight.

    A call given `deadline_seconds` stops generating once it has run that long (`stopped`).
    """

    window: int

    def submit(self, system_prompt: str, text: str,
               deadline_seconds: float | None = None) -> PendingCall:
        """Start one call."""
        ...


def run_model(model: LocalModel, system_prompt: str, text: str,
              deadline_seconds: float | None = None) -> ModelCall:
    """One schema-constrained summary call on a loaded model; an error is returned, not raised."""
    messages = [
        {"role": "system", "content": system_prompt},
        {"role": "user", "content": f'Excerpt:\n"""\n{text}\n"""'},
    ]
    started = time.perf_counter()
    try:
        completion = model.complete_json(messages, SUMMARY_SCHEMA,
                                         deadline_seconds=deadline_seconds)
    except Exception as exc:
        return ModelCall(None, seconds=time.perf_counter() - started,
                         error=f"{type(exc).__name__}: {exc}"[:500], worker=worker_label(),
                         model_loads=model.loads)
    return ModelCall(completion.content, completion.prompt_tokens, completion.completion_tokens,
                     completion.seconds, completion.cpu_seconds, worker=worker_label(),
                     model_loads=model.loads, stopped=completion.stopped)


def run_model_many(model: LocalModel, system_prompt: str, texts: list[str],
                   deadline_seconds: float | None = None) -> list[ModelCall]:
    """`run_model` of each text, decoded together in one multi-sequence batch."""
    messages = [[{"role": "system", "content": system_prompt},
                 {"role": "user", "content": f'Excerpt:\n"""\n{text}\n"""'}] for text in texts]
    started = time.perf_counter()
    try:
        completions = model.complete_json_many(messages, SUMMARY_SCHEMA,
                                               deadline_seconds=deadline_seconds)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        seconds = (time.perf_counter() - started) / max(1, len(texts))
        return [ModelCall(None, seconds=seconds, error=error, worker=worker_label(),
                          model_loads=model.loads) for _ in texts]
    return [ModelCall(c.content, c.prompt_tokens, c.completion_tokens, c.seconds, c.cpu_seconds,
                      worker=worker_label(), model_loads=model.loads, stopped=c.stopped)
            for c in completions]


def call_local_model(spec: ModelSpec, system_prompt: str, text: str,
                     deadline_seconds: float | None = None) -> ModelCall:
    """One call on this process's instance of the model (verified and loaded once per process)."""
    return run_model(get_verified_model(spec), system_prompt, text, deadline_seconds)


@dataclass
class _Done:
    call: ModelCall

    def result(self) -> ModelCall:
        return self.call


@dataclass
class InProcessCalls:
    """Model calls made at once, in this process."""

    spec: ModelSpec
    window: int = 1

    def submit(self, system_prompt: str, text: str,
               deadline_seconds: float | None = None) -> PendingCall:
        """Make the call now; the returned handle is already done."""
        return _Done(call_local_model(self.spec, system_prompt, text, deadline_seconds))


class _Queued:
    """A call waiting for its batch: asking for its result runs every call queued with it."""

    def __init__(self, owner: BatchedCalls) -> None:
        self.owner = owner
        self.call: ModelCall | None = None

    def result(self) -> ModelCall:
        if self.call is None:
            self.owner.flush()
        assert self.call is not None
        return self.call


@dataclass
class BatchedCalls:
    """Model calls decoded `window` at a time in one llama.cpp batch, in this process.

    `submit` queues; the first `result()` asked for runs the whole queue as one batch, so the
    chunk loop's window of calls in flight is the batch. A batch's deadline is the sum of its
    calls' deadlines: its time is shared out among them, and the budget allotted each its own.
    """

    spec: ModelSpec
    window: int = 16
    _queue: list[tuple[str, str, _Queued, float | None]] = field(default_factory=list)

    def submit(self, system_prompt: str, text: str,
               deadline_seconds: float | None = None) -> PendingCall:
        """Queue one call; it runs with the others queued when a result is first asked for."""
        handle = _Queued(self)
        self._queue.append((system_prompt, text, handle, deadline_seconds))
        return handle

    def flush(self) -> None:
        """Run every queued call, one batch per system prompt."""
        queue, self._queue = self._queue, []
        model = get_verified_model(self.spec)
        for prompt in dict.fromkeys(q[0] for q in queue):
            same = [(text, handle, limit) for p, text, handle, limit in queue if p == prompt]
            limits = [limit for _, _, limit in same]
            deadline = None if None in limits else sum(x for x in limits if x is not None)
            calls = run_model_many(model, prompt, [text for text, _, _ in same], deadline)
            for (_, handle, _), call in zip(same, calls, strict=True):
                handle.call = call
