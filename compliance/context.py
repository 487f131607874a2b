"""What a run pins at its start, handed to every stage: the run context, and stage progress.

A run loads its rule packs, price table and local model spec once, into its `RunContext`; no
stage reloads them, so a rule file edited while a run goes on cannot give two stages two rules
versions. The context also holds the run's one database writer and its typed counts, which the
stages fill in and the flow stores at the end.

Stage progress is counts, for whoever listens: the CLI draws bars, the flow moves its artifact.
Stages report (done, total) from the process that does the bookkeeping (the flow process); a
listener that raises never disturbs the run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compliance.adapters.model_registry import ModelSpec, resolve_model, verify_model_file
from compliance.adapters.prices import PriceTable, load_price_table
from compliance.rules.loader import RuleSet, load_rules
from compliance.scoring.model import ClauseScorer
from compliance.scoring.policy import TriagePolicy, resolve_scorer, triage_policy
from compliance.settings import PipelineParams
from compliance.store import db as database
from compliance.store.runs import RunCounts, new_run_id, open_run
from compliance.store.scorers import active_scorer_bytes

PARSE = "documents parsed"
SUMMARIZE = "chunks summarized"
ESCALATE = "escalations sent"
STAGES = (PARSE, SUMMARIZE, ESCALATE)

Listener = Callable[[str, int, int], None]

_listeners: list[Listener] = []
_lock = threading.Lock()


def report(stage: str, done: int, total: int) -> None:
    """Tell every listener how far a stage has got."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(stage, done, total)
        except Exception:  # noqa: S110 - a progress display never fails the work it shows
            pass


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Receive progress reports for the length of the block."""
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)


@dataclass
class RunInputs:
    """What a run reads its policy from, loaded once per run.

    The rule packs and the price table load when the run starts, so a bad one fails it before
    any work. The local model is resolved and checked on first use and then kept: a run that
    needs no model (nothing new to chunk, summaries off) does not need its file, and one that
    does fails in the stage that needed it, keeping what earlier stages stored.
    """

    rules: RuleSet
    prices: PriceTable
    model_name: str | None = None
    scorer: ClauseScorer | None = None
    recall_target: float = 0.95
    _model: ModelSpec | None = field(default=None, repr=False)

    @property
    def model(self) -> ModelSpec:
        """The local model spec, resolved and its file checked (sha256) the first time a stage
        asks for it: once per run, however many stages load the model."""
        if self._model is None:
            spec = resolve_model(self.model_name)
            verify_model_file(spec)
            self._model = spec
        return self._model

    @property
    def policy(self) -> TriagePolicy:
        """The rule packs, the clause scorer and the operating point its recall target picks."""
        return triage_policy(self.rules.version, self.scorer, self.recall_target)


def load_inputs(params: PipelineParams) -> RunInputs:
    """Load and check the rule packs and the price table (with the run's cloud model in it)."""
    rules = load_rules()  # a malformed rule pack fails here, naming the file and rule
    prices = load_price_table()
    prices.price(params.cloud_model)  # an unknown cloud model fails here, never costs $0
    scorer = resolve_scorer(params.scorer)  # a missing or altered model file fails here
    return RunInputs(rules=rules, prices=prices, model_name=params.model, scorer=scorer,
                     recall_target=params.recall_target)


@dataclass(frozen=True)
class DetachedRunContext:
    """A run context outside the flow process: its run id, and nothing to write with."""

    run_id: str


class RunContext:
    """One run's pinned inputs, its database writer, its counts and its logger.

    A plain class, not a dataclass: Prefect dumps task parameters with pydantic, which would
    take a dataclass apart into a dict (database writer included) instead of pickling it whole.
    """

    def __init__(self, run_id: str, db: database.Database, source: Path, inputs: RunInputs,
                 counts: RunCounts | None = None) -> None:
        self.run_id = run_id
        self.db = db
        self.source = source
        self.inputs = inputs
        self.counts = counts if counts is not None else RunCounts()
        # The run's Dask task runner (tasks/workers.py), when its stages spread out.
        self.runner: Any = None

    def __repr__(self) -> str:
        return f"RunContext(run_id={self.run_id!r}, source={str(self.source)!r})"

    @property
    def log(self) -> logging.Logger | logging.LoggerAdapter:
        """The logger of the Prefect task (or flow) run now going on, so that a stage's messages
        show under its task run; outside a run, the `compliance` logger."""
        from prefect import get_run_logger
        from prefect.exceptions import MissingContextError

        try:
            return get_run_logger()
        except MissingContextError:
            return logging.getLogger("compliance")

    def __reduce__(self) -> tuple[type[DetachedRunContext], tuple[str]]:
        # A run context belongs to the flow process: its database writer never leaves it. When
        # a stage submits a nested task to a Dask worker, Prefect ships the stage's parameters
        # along as context; there, the run context travels as its run id alone.
        return DetachedRunContext, (self.run_id,)

    @property
    def rules(self) -> RuleSet:
        """The rule packs, as loaded when the run started."""
        return self.inputs.rules

    @property
    def prices(self) -> PriceTable:
        """The price table, as loaded when the run started."""
        return self.inputs.prices

    @property
    def model(self) -> ModelSpec:
        """The local model spec, resolved once for the run."""
        return self.inputs.model

    @property
    def policy(self) -> TriagePolicy:
        """The triage policy, as loaded when the run started."""
        return self.inputs.policy

    @property
    def triage_version(self) -> str:
        """The version every triage decision of this run is keyed by."""
        return self.inputs.policy.version


@contextmanager
def running(params: PipelineParams, inputs: RunInputs, orchestrator: str,
            flow_run_id: str | None = None) -> Iterator[RunContext]:
    """Open (and migrate) the database, record that a run started, and give its context; the
    writer is closed when the block ends, however it ends (the next run may be another
    process)."""
    db = database.writer(params.db_path)
    try:
        if params.scorer is None:
            with db.cursor() as cur:
                stored = active_scorer_bytes(cur)
            if stored is not None:  # activated with `compliance triage activate`
                inputs.scorer = ClauseScorer.from_bytes(stored)
        run_id = new_run_id()
        open_run(db, run_id, params.source, params.model_dump_json(), orchestrator=orchestrator,
                 flow_run_id=flow_run_id)
        yield RunContext(run_id=run_id, db=db, source=Path(params.source), inputs=inputs)
    finally:
        database.close_writer(params.db_path)
