"""What the parser workers' fork server loads once, so that every worker forked from it starts
with it: the extract package (pypdf and the other light parsers) and langdetect's language
profiles (0.4 s to load, per worker otherwise). unstructured and spaCy stay out: most workers
never need them, and each worker would carry their memory."""

from __future__ import annotations

import compliance.extract.dispatch  # noqa: F401  (imported for its side effect: loaded once)


def _load_language_profiles() -> None:
    from langdetect.detector_factory import init_factory

    init_factory()


_load_language_profiles()
