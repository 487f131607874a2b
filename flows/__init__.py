"""The Prefect flows (pipeline, retriage) and their artifacts: they wire stages, nothing else."""
