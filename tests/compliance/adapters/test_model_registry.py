"""Resolving local models from the manifest, and their tokenizer."""

from __future__ import annotations

import pytest

from compliance.adapters.model_registry import ModelError, load_manifest, resolve_model
from compliance.environment import MODEL_ENV_VAR


@pytest.mark.slow  # the model file must be there
def test_resolve_model_default(monkeypatch):
    monkeypatch.delenv(MODEL_ENV_VAR, raising=False)
    manifest = load_manifest()
    spec = resolve_model()
    assert spec.name == manifest["default"]
    entry = manifest["models"][spec.name]
    assert spec.path.name == entry["file"]
    assert spec.sha256 == entry["sha256"]
    assert spec.path.is_file()
    assert resolve_model(spec.name) == spec


def test_resolve_model_unknown_name(monkeypatch):
    monkeypatch.delenv(MODEL_ENV_VAR, raising=False)
    with pytest.raises(ModelError, match="unknown model 'no-such-model'"):
        resolve_model("no-such-model")
    with pytest.raises(ModelError, match="not found"):
        resolve_model("/nonexistent/place/model.gguf")


@pytest.mark.slow
def test_model_tokenizer_counts_tokens():
    from compliance.adapters.local_llm import get_local_model

    model = get_local_model(resolve_model())
    counts = model.count_tokens(["", "Hello world", "Hello world. " * 20])
    assert counts[0] == 0
    assert 0 < counts[1] < counts[2]
