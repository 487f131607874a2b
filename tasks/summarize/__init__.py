"""The summarize stage: chunk and document summaries with the local model, cache first."""
