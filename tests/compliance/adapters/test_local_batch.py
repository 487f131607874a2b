"""Batched local decoding (`LocalModel.complete_json_many`) against the single call, real model.

Greedy decoding in a batch of several sequences runs other ggml kernels than one token at a
time, so a near tie between two tokens can come out the other way: the batched answers must be
the single calls' answers for all chunks but at most one, and one that differs must still be
JSON of the schema (as loose as the grammar, which lets a raw newline into a string in either
path). Token counts are those the single path reports for the same answer.
"""

from __future__ import annotations

import json

import jsonschema
import pytest

from compliance.adapters.local_batch import BatchSettings
from compliance.adapters.local_llm import LocalModel
from compliance.adapters.model_registry import resolve_model
from compliance.environment import SAMPLES_DIR
from tasks.summarize.prompts import CHUNK_SYSTEM_PROMPT, SUMMARY_SCHEMA

TEXT_SAMPLES = ["contracts/master-services-agreement.txt", "notes/meeting-notes.md"]


def _messages(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": CHUNK_SYSTEM_PROMPT},
            {"role": "user", "content": f'Excerpt:\n"""\n{text}\n"""'}]


def _chunks(limit: int) -> list[str]:
    chunks: list[str] = []
    for name in TEXT_SAMPLES:
        text = (SAMPLES_DIR / name).read_text(encoding="utf-8")
        chunks += [text[i:i + 1000] for i in range(0, len(text), 1000) if len(text[i:]) > 400]
    return chunks[:limit]


@pytest.fixture(scope="module")
def model():
    instance = LocalModel(resolve_model())
    instance.batch_settings = BatchSettings(n_seq=4)  # 5 chunks: one stream is reused
    yield instance
    instance.close()


@pytest.fixture(scope="module")
def messages() -> list[list[dict[str, str]]]:
    chunks = _chunks(5)
    assert len(chunks) == 5
    return [_messages(c) for c in chunks]


@pytest.fixture(scope="module")
def single(model, messages):
    return [model.complete_json(m, SUMMARY_SCHEMA) for m in messages]


def test_batched_answers_match_single_calls(model, messages, single):
    batched = model.complete_json_many(messages, SUMMARY_SCHEMA)
    assert len(batched) == len(messages)
    pairs = list(zip(batched, single, strict=True))
    identical = [b.content == s.content for b, s in pairs]
    assert sum(identical) >= len(messages) - 1, [
        (s.content, b.content) for b, s in pairs if b.content != s.content]
    for (b, s), same in zip(pairs, identical, strict=True):
        assert b.prompt_tokens == s.prompt_tokens  # the shared system prompt counted in each
        if same:
            assert b.completion_tokens == s.completion_tokens
        else:  # the grammar's JSON (it lets a raw newline into a string, as the single path)
            jsonschema.validate(json.loads(b.content, strict=False), SUMMARY_SCHEMA)
        assert b.seconds > 0 and b.cpu_seconds >= 0
    assert model.loads == 1  # the batch runs on the weights already loaded
    # The system prompt was decoded once for the five and kept for the next call.
    assert model._decoder is not None and model._decoder.stats["prefix_evals"] == 1
    again = model.complete_json_many(messages[:2], SUMMARY_SCHEMA)
    assert [a.content for a in again] == [b.content for b in batched[:2]]
    assert model._decoder.stats["prefix_evals"] == 1


def test_empty_and_one_item(model, messages, single):
    assert model.complete_json_many([], SUMMARY_SCHEMA) == []
    [one] = model.complete_json_many(messages[:1], SUMMARY_SCHEMA)
    assert (one.content, one.prompt_tokens, one.completion_tokens) == (
        single[0].content, single[0].prompt_tokens, single[0].completion_tokens)


def test_params_reach_every_sequence(model, messages):
    short = model.complete_json_many(messages[:3], SUMMARY_SCHEMA, {"max_tokens": 5})
    assert [c.completion_tokens for c in short] == [5, 5, 5]
    assert [c.content for c in short] == [
        model.complete_json(m, SUMMARY_SCHEMA, {"max_tokens": 5}).content for m in messages[:3]]


def test_a_deadline_stops_single_and_batched_calls(model, messages, single):
    """At its deadline a call stops generating and says so; without one it runs to its end."""
    cut = model.complete_json(messages[0], SUMMARY_SCHEMA, deadline_seconds=0.0)
    assert cut.stopped and cut.prompt_tokens == single[0].prompt_tokens
    assert cut.completion_tokens < single[0].completion_tokens
    assert not single[0].stopped
    roomy = model.complete_json(messages[0], SUMMARY_SCHEMA, deadline_seconds=3600.0)
    assert not roomy.stopped and roomy.content == single[0].content

    batch = model.complete_json_many(messages, SUMMARY_SCHEMA, deadline_seconds=0.0)
    assert len(batch) == len(messages) and all(c.stopped for c in batch)
    assert sum(c.completion_tokens for c in batch) < sum(c.completion_tokens for c in single)
    # The next call, with no deadline, is answered from streams the stopped batch left behind.
    after = model.complete_json_many(messages[:2], SUMMARY_SCHEMA)
    assert not any(c.stopped for c in after)
    assert all(json.loads(c.content) for c in after)
