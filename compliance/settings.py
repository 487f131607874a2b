"""The pipeline's parameters: one model, which Prefect renders as the run form."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from compliance.environment import DEFAULT_DB_PATH, SAMPLES_DIR


# Hidden files and folders, editor backups and Office lock files are never documents.
DEFAULT_EXCLUDE = (".*", "*/.*", "*~", "~$*", "*/~$*")


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
    escalation: Literal["sync", "batch", "off"] = Field(
        "sync", description="How flagged text goes to the cloud model: 'sync' (concurrent "
        "requests, manual runs), 'batch' (Message Batches API at half price, nightly runs) or "
        "'off' (nothing leaves the machine; flagged chunks stay pending).")
    cloud_model: str = Field("claude-haiku-4-5", description="Claude model for escalations; it "
                             "must be in data/prices/anthropic.yaml.")
    budget_usd: float | None = Field(1.0, ge=0, description="Most USD this run may spend on the "
                                     "cloud model (upper bounds of requests in flight count). "
                                     "Empty: no per-run cap.")
    daily_budget_usd: float | None = Field(None, ge=0, description="Most USD all runs may spend "
                                           "per UTC day. Empty: no daily cap.")
    triage_threshold: int = Field(2, ge=1, description="Escalate a clause when the severity "
                                  "weights of the distinct rules that hit it add up to this "
                                  "(low 1, medium 2, high 3, critical 4).")
    min_window_chars: int = Field(600, ge=0, le=4000, description="An escalated clause shorter "
                                  "than this is sent with the next clause, then the previous "
                                  "one (headings and list lead-ins need their text).")
    redact_personal_data: bool = Field(True, description="Replace personal data with typed "
                                       "placeholders before any text leaves the machine.")
    max_spans_per_request: int = Field(16, ge=1, le=50, description="Flagged spans per cloud "
                                       "request (the policy prompt is paid once per request).")
    cloud_concurrency: int = Field(4, ge=1, le=32, description="Concurrent requests in sync "
                                   "mode.")
    cloud_max_retries: int = Field(2, ge=0, le=10, description="Retries of 429/5xx/connection "
                                   "errors, done by the SDK (every attempt is in the ledger).")
    cloud_timeout_seconds: float = Field(120, gt=0, description="Timeout of one cloud request.")
    batch_wait_seconds: float = Field(600, ge=0, description="How long batch mode polls for "
                                      "results before leaving the batch to the next run.")
    anthropic_base_url: str | None = Field(None, description="API base URL (empty: the SDK's "
                                           "default or ANTHROPIC_BASE_URL).")
    task_runner: Literal["threads", "dask"] = Field(
        "threads", description="Where local model calls run: 'threads' (this process) or "
        "'dask' (the Dask cluster at dask_address, or a local cluster of dask_workers "
        "processes). Every database write stays in the flow process.")
    dask_address: str | None = Field(None, pattern=r"^([a-z]+://)?[\w.-]+:\d+$",
                                     description="Scheduler of an existing Dask cluster, e.g. "
                                     "tcp://10.0.0.5:8786 (task_runner 'dask'). Empty: start a "
                                     "local cluster for the run.")
    dask_workers: int = Field(2, ge=1, le=64, description="Worker processes of the local Dask "
                              "cluster (each loads the model once).")
    lock_timeout_seconds: float | None = Field(None, ge=0, description="How long to wait for "
                                               "another run on the same results database to "
                                               "finish; empty: as long as it takes.")
    stage_timeout_seconds: float = Field(6 * 3600, gt=0, description="Longest one stage (a "
                                         "task) may run; past it the run fails and what was "
                                         "already stored is kept.")

    @model_validator(mode="after")
    def _dask_address_needs_dask(self) -> PipelineParams:
        if self.dask_address and self.task_runner != "dask":
            raise ValueError("dask_address is only used with task_runner 'dask'")
        return self

    @field_validator("source", "db_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        return str(Path(value).expanduser().resolve())
