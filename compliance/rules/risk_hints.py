"""A cheap count of risk vocabulary, used to order pending summaries (riskiest first)."""

from __future__ import annotations

import re

_RISK_TERMS = re.compile(
    r"\b(guarantee[ds]?|risk[- ]free|no side effects?|completely safe|cure[sd]?|off[- ]label|"
    r"adverse event|better than|safest|indemnif\w*|unlimited liability|non[- ]compete|"
    r"exclusiv\w*|auto(?:matic(?:ally)?)?[- ]?renew\w*|change of control|"
    r"terminat\w* for convenience|"
    r"audit rights?|social security|date of birth|passport|IBAN|confidential)\b",
    re.IGNORECASE,
)


def risk_hint_score(text: str) -> int:
    """How many risk terms occur in a text."""
    return sum(1 for _ in _RISK_TERMS.finditer(text))
