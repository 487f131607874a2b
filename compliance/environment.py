"""Where the project keeps its files, resolved from the repository root."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("COMPLIANCE_HOME", Path(__file__).resolve().parent.parent))
MODELS_DIR = PROJECT_ROOT / "models"
DATA_DIR = PROJECT_ROOT / "data"
SAMPLES_DIR = DATA_DIR / "samples"
DEFAULT_DB_PATH = DATA_DIR / "compliance.duckdb"
MODEL_MANIFEST = MODELS_DIR / "manifest.json"
