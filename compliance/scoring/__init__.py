"""Clause scoring: the learned triage scorer, its training and the audit of what it misses
(library layer)."""
