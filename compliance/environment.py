"""Where the project keeps its files, and every environment variable it reads (here only).

- `COMPLIANCE_HOME`: the project folder holding `models/` and `data/` (default: this checkout).
- `COMPLIANCE_MODEL`: the local GGUF model when a run names none, a manifest name or a path
  (default: the manifest's default).
- `COMPLIANCE_RULES_DIR`: the folder of rule packs, *.yaml (default: `data/rules/`).
- `COMPLIANCE_LLM_THREADS`: llama.cpp threads per model (default: the number of CPUs).
- `ANTHROPIC_API_KEY`: the cloud model's key, else the Prefect Secret block `anthropic-api-key`
  (default: none, and nothing is sent).

The cloud API's address is the run's `anthropic_base_url` setting, else the SDK's own
`ANTHROPIC_BASE_URL`, else Anthropic's.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("COMPLIANCE_HOME", Path(__file__).resolve().parent.parent))
MODELS_DIR = PROJECT_ROOT / "models"
DATA_DIR = PROJECT_ROOT / "data"
SAMPLES_DIR = DATA_DIR / "samples"
DEFAULT_DB_PATH = DATA_DIR / "compliance.duckdb"
MODEL_MANIFEST = MODELS_DIR / "manifest.json"
SCORER_FILE = MODELS_DIR / "clause-scorer.bin"
# The labelled contracts (CUAD v1): the scorer trains on the first, is validated on the second.
CONTRACTS_DIR = PROJECT_ROOT.parent / "shared" / "corpus" / "contracts"
TRAINING_DATA = CONTRACTS_DIR / "cuad_train.jsonl"
DEV_DATA = CONTRACTS_DIR / "cuad_dev.jsonl"
DEFAULT_RULES_DIR = DATA_DIR / "rules"
PRICES_DIR = DATA_DIR / "prices"
PROMPTS_DIR = DATA_DIR / "prompts"

MODEL_ENV_VAR = "COMPLIANCE_MODEL"
RULES_DIR_ENV_VAR = "COMPLIANCE_RULES_DIR"
LLM_THREADS_ENV_VAR = "COMPLIANCE_LLM_THREADS"
API_KEY_ENV_VAR = "ANTHROPIC_API_KEY"


def model_override() -> str | None:
    """The local model named by the environment, if any."""
    return os.environ.get(MODEL_ENV_VAR) or None


def rules_dir() -> Path:
    """The folder of rule packs."""
    return Path(os.environ.get(RULES_DIR_ENV_VAR, DEFAULT_RULES_DIR))


def llm_threads() -> int:
    """llama.cpp threads per model."""
    return int(os.environ.get(LLM_THREADS_ENV_VAR, os.cpu_count() or 2))


def api_key() -> str | None:
    """The cloud model's key from the environment, if set."""
    return os.environ.get(API_KEY_ENV_VAR) or None
