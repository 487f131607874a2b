"""The pipeline stages, one module or sub-package each, in pipeline order: discover, inventory,
ingest, chunk, flag, escalate, findings, summarize, index, near_duplicates, spend, report.
Each stage is plain typed functions plus a thin Prefect task (tasks/stage.py)."""
