"""Masking for what reaches the Prefect server (logs and artifacts): personal data and secrets.

The Prefect server may be shared, so run logs and artifacts never carry personal data or the
API key. Personal data is what the rule packs' `redact_as` rules find (with their validators);
person names (spaCy) are masked in artifacts, where the text is short and written once, and
not in every log line. A registered secret is replaced wherever it appears.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from compliance.environment import rules_dir
from compliance.rules.loader import load_rules
from compliance.rules.matching import Rule, find_entities, merge_spans

SECRET_PLACEHOLDER = "[REDACTED]"
# If the rule packs cannot be read, logs are still masked with these.
_FALLBACK = {
    "EMAIL": re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
    "SSN": re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)"),
}
_LOGGERS = ("prefect.flow_runs", "prefect.task_runs", "prefect.extra", "prefect.workers", "")

_lock = threading.Lock()
_secrets: set[str] = set()
_rules: dict[str, list[Rule]] = {}  # by rules folder (COMPLIANCE_RULES_DIR may change)


def add_secret(value: str | None) -> None:
    """Mask this value from now on in this process (an API key, a token)."""
    if value and len(value) >= 8:
        with _lock:
            _secrets.add(value)


def _masking_rules() -> list[Rule]:
    folder = str(rules_dir())
    with _lock:
        if folder not in _rules:
            try:
                _rules[folder] = [rule for rule in load_rules(Path(folder)).rules
                                  if rule.redact_as]
            except Exception:  # a broken pack stops the run elsewhere; masking falls back
                _rules[folder] = []
        return _rules[folder]


def mask(text: str, names: bool = False) -> str:
    """The text with secrets and personal data replaced by typed placeholders ([EMAIL])."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, SECRET_PLACEHOLDER)
    rules = _masking_rules()
    labels: dict[tuple[int, int], str] = {}
    if rules:
        entity_rules = [rule for rule in rules if rule.entities]
        entities = find_entities(text) if names and entity_rules else []
        for rule in rules:
            if rule.entities and not names:
                continue
            for hit in rule.find(text, entities):
                labels[(hit.start, hit.end)] = hit.redact_as or "PII"
    else:
        for label, pattern in _FALLBACK.items():
            for match in pattern.finditer(text):
                labels[match.span()] = label
    if not labels:
        return text
    pieces: list[str] = []
    last = 0
    for start, end in merge_spans(labels):
        label = next(labels[span] for span in sorted(labels) if start <= span[0] < end)
        pieces.append(text[last:start])
        pieces.append(f"[{label}]")
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


class MaskingFilter(logging.Filter):
    """Masks each record's message (and traceback) before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        try:
            message = record.getMessage()
            masked = mask(message)
            if masked != message:
                record.msg, record.args = masked, None
            if record.exc_info and not getattr(record, "_compliance_masked", False):
                record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
                record._compliance_masked = True
        except Exception:  # a log line is never lost to the masking
            pass
        return True


_filter = MaskingFilter()


def install_log_masking() -> None:
    """Mask run logs in this process: on Prefect's run loggers and on their handlers."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        targets: list[logging.Filterer] = [logger, *logger.handlers]
        for target in targets:
            if _filter not in target.filters:
                target.addFilter(_filter)
