"""Which clause scorer a run uses, at which operating point, and the version that pins both.

A run's triage policy is its rule packs plus, unless turned off, a clause scorer and the
threshold its recall target picks. The policy version keys every triage decision: change the
rules, the scorer or the target and `compliance retriage` re-decides the stored chunks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from compliance.environment import MODEL_MANIFEST
from compliance.scoring.model import ClauseScorer, OperatingPoint, load_scorer

SCORER_OFF = "off"


@dataclass(frozen=True)
class TriagePolicy:
    """Rule packs (by version) and, optionally, a scorer with its operating point."""

    rules_version: str
    scorer: ClauseScorer | None = None
    point: OperatingPoint | None = None

    @property
    def version(self) -> str:
        """The rules version alone, or a hash of rules, scorer and threshold."""
        if self.scorer is None or self.point is None:
            return self.rules_version
        payload = f"{self.rules_version}|{self.scorer.version}|{self.point.threshold!r}"
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @property
    def categories(self) -> frozenset[str]:
        """The categories the scorer decides (rules of other categories still escalate)."""
        return frozenset(self.scorer.categories) if self.scorer is not None else frozenset()


def scorer_entry(name: str, manifest_path: Path = MODEL_MANIFEST) -> tuple[Path, str]:
    """The file and sha256 of a scorer named in the manifest ('default' for the default)."""
    scorers = json.loads(manifest_path.read_text()).get("scorers", {})
    if name == "default":
        name = scorers.get("default", "")
    entry = scorers.get(name)
    if not isinstance(entry, dict):
        known = sorted(k for k in scorers if k != "default")
        raise ValueError(f"no clause scorer {name!r} in {manifest_path} (known: {known})")
    return manifest_path.parent / entry["file"], entry["sha256"]


def resolve_scorer(name: str | None) -> ClauseScorer | None:
    """The scorer a setting names: empty for the default, 'off', a manifest name or a file."""
    if name == SCORER_OFF:
        return None
    name = name or "default"
    path = Path(name).expanduser()
    if path.suffix == ".bin" and path.is_file():
        return load_scorer(path)
    file, sha256 = scorer_entry(name)
    if not file.is_file():
        raise FileNotFoundError(f"clause scorer file {file} is missing; run `make train`")
    return load_scorer(file, sha256)


def triage_policy(rules_version: str, scorer: ClauseScorer | None,
                  recall_target: float) -> TriagePolicy:
    """The policy of a run: its operating point picked from the scorer's curve."""
    if scorer is None:
        return TriagePolicy(rules_version)
    return TriagePolicy(rules_version, scorer, scorer.operating_point(recall_target))
