"""The results database schema as ordered, append-only migrations, one module each.

Never edit a migration that has shipped: add a module and append it to MIGRATIONS. Each runs
once, in order, inside a transaction, and is recorded in `_migrations` under its name. A
migration writes COMMENT ON meanings from text frozen in its own module, so a later change of
meaning needs a later migration.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from compliance.store.migrations.m001_core_tables import m001_core_tables
from compliance.store.migrations.m002_flags_triage_escalation import m002_flags_triage_escalation
from compliance.store.migrations.m003_findings_reviews_search import m003_findings_reviews_search
from compliance.store.migrations.m004_dismissals_carry_no_fields import (
    m004_dismissals_carry_no_fields,
)
from compliance.store.migrations.m005_savings_claimed_only_when_sent import (
    m005_savings_claimed_only_when_sent,
)
from compliance.store.migrations.m006_clause_scorer import m006_clause_scorer
from compliance.store.migrations.m007_interrupted_runs import m007_interrupted_runs
from compliance.store.migrations.m008_window_outcomes import m008_window_outcomes
from compliance.store.migrations.m009_window_failures import m009_window_failures
from compliance.store.migrations.m010_document_briefs import m010_document_briefs

Migration = Callable[[duckdb.DuckDBPyConnection], None]

MIGRATIONS: list[tuple[str, Migration]] = [
    ("m001_core_tables", m001_core_tables),
    ("m002_flags_triage_escalation", m002_flags_triage_escalation),
    ("m003_findings_reviews_search", m003_findings_reviews_search),
    ("m004_dismissals_carry_no_fields", m004_dismissals_carry_no_fields),
    ("m005_savings_claimed_only_when_sent", m005_savings_claimed_only_when_sent),
    ("m006_clause_scorer", m006_clause_scorer),
    ("m007_interrupted_runs", m007_interrupted_runs),
    ("m008_window_outcomes", m008_window_outcomes),
    ("m009_window_failures", m009_window_failures),
    ("m010_document_briefs", m010_document_briefs),
]
