"""The escalate stage: open windows to the cloud model, cache first, within the budget."""
