"""The pipeline's parameters: one model, which Prefect renders as the run form."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from compliance.paths import DEFAULT_DB_PATH, SAMPLES_DIR
from tasks.discover import DEFAULT_EXCLUDE


class PipelineParams(BaseModel):
    """Everything a run of compliance-pipeline can be told."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(str(SAMPLES_DIR), description="Folder of documents to scan (recursive).")
    db_path: str = Field(str(DEFAULT_DB_PATH), description="DuckDB results file (created if new).")
    include: list[str] = Field(default_factory=lambda: ["*"],
                               description="Glob patterns of relative paths to scan.")
    exclude: list[str] = Field(default_factory=lambda: list(DEFAULT_EXCLUDE),
                               description="Glob patterns of relative paths to skip.")
    model: str | None = Field(None, description="Local GGUF model: a name from models/"
                              "manifest.json or a path; empty means the default model.")
    summarize: Literal["all", "off"] = Field("all", description="'all' summarizes pending chunks "
                                             "with the local model; 'off' skips the model.")
    local_budget_seconds: float | None = Field(None, ge=0, description="Most seconds of local "
                                               "model time this run may spend; the rest stays "
                                               "pending for the next run. Empty: no limit.")
    max_chunk_tokens: int = Field(384, ge=64, le=4096,
                                  description="Largest chunk, in the local model's tokens.")
    verify_hashes: bool = Field(False, description="Hash every file instead of trusting an "
                                "unchanged size and modification time.")
    near_duplicate_threshold: float = Field(0.33, gt=0, le=1, description="MinHash Jaccard "
                                            "similarity (word bigrams) at which two documents "
                                            "are linked as near-duplicates.")
    boilerplate_min_documents: int = Field(3, ge=2, description="A paragraph shared by this "
                                           "many distinct documents is boilerplate, chunked and "
                                           "summarized on its own.")
    max_file_mb: float = Field(100, gt=0, description="Files larger than this are 'too_large'.")
    parse_timeout_seconds: float = Field(300, gt=0, description="Parsing one file longer than "
                                         "this marks it 'timeout'.")
    parse_workers: int = Field(2, ge=1, le=32, description="Parser processes.")

    @field_validator("source", "db_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        return str(Path(value).expanduser().resolve())
