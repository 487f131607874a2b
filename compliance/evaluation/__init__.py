"""Measure triage against labelled documents: what share of the risk it finds, at what cost."""
