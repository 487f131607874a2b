"""What a run can be told: one settings model per stage, composed into the run's parameters.

Each setting and its default is defined once, here, in the settings of the stage that reads it.
`PipelineParams` inherits every stage's settings, so it stays one flat model: Prefect renders it
as the run form, the CLI derives its options from its fields (compliance/cli/options.py), and a
stage is handed the whole of it typed as its own settings, reading only its fields.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from compliance.environment import DEFAULT_DB_PATH, SAMPLES_DIR

# Hidden files and folders, editor backups and Office lock files are never documents.
DEFAULT_EXCLUDE = (".*", "*/.*", "*~", "~$*", "*/~$*")
DEFAULT_CLOUD_MODEL = "claude-haiku-4-5"


def _absolute(value: str) -> str:
    return str(Path(value).expanduser().resolve())


# A path setting, stored resolved: runs compare source roots as strings.
AbsolutePath = Annotated[str, AfterValidator(_absolute)]


def _decimal(value: float | None) -> Decimal | None:
    """A USD setting as an exact amount (floats are what a form gives)."""
    return None if value is None else Decimal(str(value))


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceSettings(_Settings):
    """Which files a run reads: discovery and inventory."""

    source: AbsolutePath = Field(str(SAMPLES_DIR),
                                 description="Folder of documents to scan (recursive).")
    include: list[str] = Field(default_factory=lambda: ["*"],
                               description="Glob patterns of relative paths to scan.")
    exclude: list[str] = Field(default_factory=lambda: list(DEFAULT_EXCLUDE),
                               description="Glob patterns of relative paths to skip.")
    verify_hashes: bool = Field(False, description="Hash every file instead of trusting an "
                                "unchanged size and modification time.")


class DatabaseSettings(_Settings):
    """The results database, and how a run shares it with other runs."""

    db_path: AbsolutePath = Field(str(DEFAULT_DB_PATH),
                                  description="DuckDB results file (created if new).")
    lock_timeout_seconds: float | None = Field(None, ge=0, description="How long to wait for "
                                               "another run on the same results database to "
                                               "finish; empty: as long as it takes.")
    stage_timeout_seconds: float = Field(6 * 3600, gt=0, description="Longest one stage (a "
                                         "task) may run; past it the run fails and what was "
                                         "already stored is kept.")


class IngestSettings(_Settings):
    """Limits for reading files."""

    max_file_mb: float = Field(100, gt=0, description="Files larger than this are 'too_large'.")
    parse_timeout_seconds: float = Field(300, gt=0, description="Parsing one file longer than "
                                         "this marks it 'timeout'.")
    parse_workers: int = Field(2, ge=1, le=32, description="Parser processes.")
    parse_memory_mb: int = Field(1536, ge=768, description="Address space of one parser "
                                 "process (its libraries take about 560 MB); a file that needs "
                                 "more is 'too_large'. Two workers at the default fit a 4 GB "
                                 "machine.")
    max_text_mb: float = Field(50, gt=0, description="Most text kept from one file, in "
                               "millions of characters; the rest is dropped and the file is "
                               "'partial'.")
    max_pages: int = Field(2000, ge=1, description="Most PDF pages read from one file; the rest "
                           "are skipped and the file is 'partial'.")
    max_unpacked_mb: float = Field(500, gt=0, description="Most bytes a zip-based file (DOCX, "
                                   "PPTX, ZIP) may declare uncompressed; more is 'too_large' "
                                   "and nothing is unpacked.")
    max_zip_ratio: float = Field(200, gt=1, description="Compression ratio past which a zip "
                                 "member over 10 MB is a zip bomb ('too_large', not unpacked).")
    max_attachment_depth: int = Field(3, ge=0, le=10, description="How deep attachments inside "
                                      "attachments (e-mails, archives, PDFs) are read.")
    max_attachments: int = Field(100, ge=0, description="Most attachments read from one "
                                 "document; the rest are skipped and the document is 'partial'.")

    @property
    def max_file_bytes(self) -> int:
        """The file size limit in bytes."""
        return int(self.max_file_mb * 1_000_000)


class ChunkSettings(_Settings):
    """How documents are cut into chunks."""

    max_chunk_tokens: int = Field(384, ge=64, le=4096,
                                  description="Largest chunk, in the local model's tokens.")
    boilerplate_min_documents: int = Field(3, ge=2, description="A paragraph shared by this "
                                           "many distinct documents is boilerplate, chunked and "
                                           "summarized on its own.")


class NearDuplicateSettings(_Settings):
    """When two documents count as near-duplicates."""

    near_duplicate_threshold: float = Field(0.33, gt=0, le=1, description="MinHash Jaccard "
                                            "similarity (word bigrams) at which two documents "
                                            "are linked as near-duplicates.")


class TriageSettings(_Settings):
    """How the clause scorer and rule hits become escalation decisions, and how they are audited."""

    scorer: str | None = Field(None, description="Clause scorer: a name from models/manifest."
                               "json 'scorers', a .bin model file, or 'off' (rules alone). "
                               "Empty: the model activated with `compliance triage activate`, "
                               "else the shipped default.")
    recall_target: float = Field(0.95, gt=0, le=1, description="Share of risky clauses triage "
                                 "should send to the cloud model; the scorer's threshold is "
                                 "picked from its cross-validated recall curve.")
    audit_share: float = Field(0.1, ge=0, le=0.5, description="Share of the run's cloud budget "
                               "spent judging a random sample of clauses triage did not send, "
                               "to estimate what it misses (0: no audit).")
    audit_delta: float = Field(0.05, gt=0, lt=1, description="The recall estimate's lower bound "
                               "holds with probability 1 - audit_delta.")
    audit_window_runs: int = Field(7, ge=1, le=90, description="Runs pooled in the recall "
                                   "estimate (a rolling window).")

    triage_threshold: int = Field(2, ge=1, description="Rules: escalate a clause when the "
                                  "severity weights of the distinct rules that hit it add up to "
                                  "this (low 1, medium 2, high 3, critical 4).")
    min_window_chars: int = Field(600, ge=0, le=4000, description="An escalated clause shorter "
                                  "than this is sent with the next clause, then the previous "
                                  "one (headings and list lead-ins need their text).")
    redact_personal_data: bool = Field(True, description="Replace personal data with typed "
                                       "placeholders before any text leaves the machine.")


class SummarizeSettings(_Settings):
    """The local model: which, whether, how long, and where its calls run."""

    model: str | None = Field(None, description="Local GGUF model: a name from models/"
                              "manifest.json or a path; empty means the default model.")
    summarize: Literal["all", "findings", "off"] = Field(
        "all", description="'all' summarizes pending chunks with the local model; 'findings' "
        "only those of documents with open findings (others when a reviewer asks, with "
        "`compliance summary`); 'off' skips the model.")
    local_budget_seconds: float | None = Field(None, ge=0, description="Most seconds of local "
                                               "model time this run may spend; the rest stays "
                                               "pending for the next run. Empty: no limit.")
    task_runner: Literal["threads", "dask"] = Field(
        "threads", description="Where parsing, the rule scan and local model calls run: "
        "'threads' (this machine: parser processes, this process) or 'dask' (the Dask cluster "
        "at dask_address, or a local cluster of dask_workers processes). Every database write "
        "stays in the flow process.")
    dask_address: str | None = Field(None, pattern=r"^([a-z]+://)?[\w.-]+:\d+$",
                                     description="Scheduler of an existing Dask cluster, e.g. "
                                     "tcp://10.0.0.5:8786 (task_runner 'dask'). Empty: start a "
                                     "local cluster for the run.")
    dask_workers: int = Field(2, ge=1, le=64, description="Worker processes of the local Dask "
                              "cluster (each loads the model once).")
    local_batch_size: int = Field(1, ge=1, le=64, description="Chunks decoded together in one "
                                  "llama.cpp batch (task_runner 'threads'): faster only on a "
                                  "busy machine with the default model (README Performance), "
                                  "and a summary may differ from the one-at-a-time answer when "
                                  "batched arithmetic flips a near tie. 1: one at a time.")

    @model_validator(mode="after")
    def _dask_address_needs_dask(self) -> SummarizeSettings:
        if self.dask_address and self.task_runner != "dask":
            raise ValueError("dask_address is only used with task_runner 'dask'")
        return self


class EscalationSettings(_Settings):
    """How and how much flagged text goes to the cloud model."""

    escalation: Literal["sync", "batch", "off"] = Field(
        "sync", description="How flagged text goes to the cloud model: 'sync' (concurrent "
        "requests, manual runs), 'batch' (Message Batches API at half price, nightly runs) or "
        "'off' (nothing leaves the machine; flagged chunks stay pending).")
    cloud_model: str = Field(DEFAULT_CLOUD_MODEL, description="Claude model for escalations; it "
                             "must be in data/prices/anthropic.yaml.")
    budget_usd: float | None = Field(1.0, ge=0, description="Most USD this run may spend on the "
                                     "cloud model (upper bounds of requests in flight count). "
                                     "Empty: no per-run cap.")
    daily_budget_usd: float | None = Field(None, ge=0, description="Most USD all runs may spend "
                                           "per UTC day. Empty: no daily cap.")
    max_spans_per_request: int = Field(16, ge=1, le=50, description="Flagged spans per cloud "
                                       "request (the policy prompt is paid once per request).")
    cloud_concurrency: int = Field(4, ge=1, le=32, description="Concurrent requests in sync "
                                   "mode.")
    cloud_max_retries: int = Field(2, ge=0, le=10, description="Retries of 429/5xx/connection "
                                   "errors, done by the SDK (every attempt is in the ledger).")
    cloud_timeout_seconds: float = Field(120, gt=0, description="Timeout of one cloud request.")
    max_window_failures: int = Field(3, ge=0, description="Failed requests (or rejected "
                                     "answers) for one window before runs stop sending it "
                                     "again; it stays failed with its reason. 0: no limit.")
    batch_wait_seconds: float = Field(600, ge=0, description="How long batch mode polls for "
                                      "results before leaving the batch to the next run.")
    anthropic_base_url: str | None = Field(None, description="API base URL (empty: the SDK's "
                                           "default or ANTHROPIC_BASE_URL).")

    @property
    def run_budget(self) -> Decimal | None:
        """The per-run cap as an exact amount."""
        return _decimal(self.budget_usd)

    @property
    def daily_budget(self) -> Decimal | None:
        """The daily cap as an exact amount."""
        return _decimal(self.daily_budget_usd)


class StartupSettings(_Settings):
    """How a command starts Prefect: not a run parameter (a flow run already has its server)."""

    prefect_startup_timeout_seconds: float = Field(
        90, gt=0, le=3600, description="How long a command waits for its temporary Prefect API "
        "server to answer, tried twice (Prefect's own default, 20 s, is too short on a loaded "
        "machine). Not used when PREFECT_API_URL names a server.")


class PipelineParams(EscalationSettings, SummarizeSettings, TriageSettings,
                     NearDuplicateSettings, ChunkSettings, IngestSettings, DatabaseSettings,
                     SourceSettings):
    """Everything a run of compliance-pipeline can be told.

    The form lists the settings stage by stage, in pipeline order (pydantic gathers the fields
    of the last base first).
    """


def default_of(settings: type[BaseModel], name: str) -> object:
    """A setting's default, for options that restate a setting under another name."""
    return settings.model_fields[name].get_default(call_default_factory=True)


def description_of(settings: type[BaseModel], name: str) -> str:
    """A setting's description."""
    return settings.model_fields[name].description or ""
