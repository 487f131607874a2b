"""The compliance pipeline's library and entry points, in layers (README, "Where things are").

Entry points (`cli`, `evaluation`) may import `flows` and `tasks`; the run context (`context`)
stands on the library (`adapters`, `store`, `rules`, `extract`, `read`), which stands on the
foundation (`vocab`, `settings`, `environment`, `textnorm`). tests/test_layers.py holds the rule.
"""
