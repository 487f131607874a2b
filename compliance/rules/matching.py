"""Matching compiled rules against text: hits, rules, rule sets and the span helpers they share.

A Rule holds its compiled matchers (patterns, keywords, near pairs, entity labels) and finds
its hits in one text; a RuleSet scans a text with every loaded rule and carries the combined
version that findings, caches and re-triage key on. Named entities come from the installed
spaCy English pipeline, loaded once per process and only when some rule asks for entities.
How packs are read and validated is compliance.rules.loader's business.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from compliance.vocab import SEVERITIES

_WORD = re.compile(r"\w+")
_ODD_SPACES = str.maketrans({ch: " " for ch in "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004"
                             "\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"})


@dataclass(frozen=True)
class Hit:
    """One rule match: a span of the text."""

    rule_id: str
    category: str
    severity: str
    action: str
    start: int
    end: int
    pack: str
    pack_version: str
    redact_as: str | None


@dataclass
class Rule:
    """One compiled rule."""

    id: str
    category: str
    severity: str
    description: str
    action: str
    pack: str
    pack_version: str
    patterns: list[re.Pattern[str]] = field(default_factory=list)
    keywords: list[re.Pattern[str]] = field(default_factory=list)
    near: tuple[list[re.Pattern[str]], list[re.Pattern[str]], int] | None = None
    entities: list[str] = field(default_factory=list)
    validators: list[Callable[[str], bool]] = field(default_factory=list)
    exclude: list[re.Pattern[str]] = field(default_factory=list)
    exclude_window: int = 80
    ignore: list[re.Pattern[str]] = field(default_factory=list)
    redact_as: str | None = None

    def _hit(self, start: int, end: int) -> Hit:
        return Hit(self.id, self.category, self.severity, self.action, start, end, self.pack,
                   self.pack_version, self.redact_as)

    def _excluded(self, text: str, start: int, end: int) -> bool:
        if not self.exclude:
            return False
        window = text[max(0, start - self.exclude_window):end + self.exclude_window]
        return any(pattern.search(window) for pattern in self.exclude)

    def find(self, text: str, entities: list[tuple[str, int, int]]) -> list[Hit]:
        """All hits of this rule in a text."""
        spans: list[tuple[int, int]] = []
        for pattern in self.patterns:
            for match in pattern.finditer(text):
                group = "value" if "value" in pattern.groupindex else 0
                if match.group(group) is None:
                    continue
                if all(check(match.group(group)) for check in self.validators):
                    spans.append(match.span(group))
        for pattern in self.keywords:
            spans.extend(match.span() for match in pattern.finditer(text))
        if self.near is not None:
            spans.extend(_near_spans(text, *self.near))
        if self.entities:
            spans.extend((s, e) for label, s, e in entities
                         if label in self.entities and _plausible_entity(label, text[s:e]))
        ignored = ([m.span() for pattern in self.ignore for m in pattern.finditer(text)]
                   if spans else [])
        return [self._hit(s, e) for s, e in sorted(set(spans))
                if e > s and not self._excluded(text, s, e)
                and not any(s < b and a < e for a, b in ignored)]


_ROLE_WORDS = {"agreement", "supplier", "customer", "company", "party", "parties", "provider",
               "client", "contractor", "licensee", "licensor", "buyer", "seller", "employer",
               "employee", "pharma", "inc", "ltd", "llc", "plc", "gmbh", "corp", "team", "office",
               "policy", "lane", "street", "road", "avenue", "drive"}


def _plausible_entity(label: str, value: str) -> bool:
    """Drop the small English model's usual PERSON mistakes: defined roles, firms, streets."""
    if label != "PERSON":
        return True
    tokens = [t for t in re.split(r"[\s,]+", value) if t]
    if any(t.lower().strip(".") in _ROLE_WORDS for t in tokens):
        return False
    return len(tokens) >= 2 and all(t[:1].isupper() and not t.isupper() for t in tokens)


def _near_spans(text: str, first: list[re.Pattern[str]], second: list[re.Pattern[str]],
                within_words: int) -> list[tuple[int, int]]:
    words = [m.start() for m in _WORD.finditer(text)]

    def word_index(offset: int) -> int:
        import bisect

        return bisect.bisect_right(words, offset) - 1

    firsts = [m.span() for p in first for m in p.finditer(text)]
    seconds = [m.span() for p in second for m in p.finditer(text)]
    spans = []
    for a_start, a_end in firsts:
        for b_start, b_end in seconds:
            if abs(word_index(a_start) - word_index(b_start)) <= within_words:
                spans.append((min(a_start, b_start), max(a_end, b_end)))
    return spans


def phrase_pattern(phrase: str, flags: int) -> re.Pattern[str]:
    """A keyword phrase as a pattern: whole words only, any run of whitespace between them."""
    escaped = r"\s+".join(re.escape(part) for part in phrase.split())
    return re.compile(rf"(?<!\w){escaped}(?!\w)", flags)


@dataclass(frozen=True)
class WholeDocument:
    """A pack's widening: short documents where enough of its rules hit are sent whole."""

    pack: str
    min_distinct_rules: int
    max_chunks: int


@dataclass
class RuleSet:
    """Every loaded pack, with a combined version for cache keys and re-triage."""

    rules: list[Rule]
    pack_versions: dict[str, str]
    whole_document: list[WholeDocument] = field(default_factory=list)

    @property
    def version(self) -> str:
        """Hash of all packs' versions: changes when any rule changes."""
        joined = ",".join(f"{k}={v}" for k, v in sorted(self.pack_versions.items()))
        return hashlib.sha256(joined.encode()).hexdigest()[:16]

    @property
    def needs_entities(self) -> bool:
        """True if any rule uses named entities."""
        return any(rule.entities for rule in self.rules)

    def scan(self, text: str) -> list[Hit]:
        """Every rule's hits in a text, in text order."""
        return self.scan_many([text])[0]

    def scan_many(self, texts: list[str]) -> list[list[Hit]]:
        """Every rule's hits in each text (the entity pass batched over all of them)."""
        # PDFs often space words with U+00A0 and kin: patterns say ' '. One character for one
        # keeps every offset valid in the stored text.
        texts = [text.translate(_ODD_SPACES) for text in texts]
        entities = (find_entities_many(texts) if self.needs_entities and texts
                    else [[] for _ in texts])
        scanned = []
        for text, found in zip(texts, entities, strict=True):
            hits = [hit for rule in self.rules for hit in rule.find(text, found)]
            scanned.append(sorted(hits, key=lambda h: (h.start, h.end, h.rule_id)))
        return scanned


_nlp: Any = None
_nlp_lock = threading.Lock()
# Only the entity recognizer runs: in this pipeline it has its own token-to-vector layer, so the
# tagger, parser, lemmatizer and shared tok2vec are half the time and nothing the rules read
# (bench/bench_triage.py: 2.1x faster, a few PERSON spans with other boundaries, none lost;
# `compliance eval labelled` gives the same results; figures in README "Performance").
_NOT_NEEDED_FOR_ENTITIES = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer",
                            "senter"]
# Texts per nlp.pipe batch: one document's chunks go through spaCy together.
ENTITY_BATCH = 64


def _entity_pipeline() -> Any:
    """The installed spaCy English pipeline with its entity recognizer alone, loaded once."""
    global _nlp
    if _nlp is None:
        import spacy

        from compliance.adapters.offline_nlp import OFFLINE_SPACY_PACKAGE

        _nlp = spacy.load(OFFLINE_SPACY_PACKAGE, exclude=_NOT_NEEDED_FOR_ENTITIES)
        _nlp.max_length = 2_000_000
    return _nlp


def find_entities(text: str) -> list[tuple[str, int, int]]:
    """Named entities (label, start, end) in one text."""
    return find_entities_many([text])[0]


def find_entities_many(texts: list[str]) -> list[list[tuple[str, int, int]]]:
    """Named entities (label, start, end) of each text, batched through spaCy's pipe."""
    with _nlp_lock:
        docs = _entity_pipeline().pipe(texts, batch_size=ENTITY_BATCH)
        return [[(ent.label_, ent.start_char, ent.end_char) for ent in doc.ents]
                for doc in docs]


def severity_weight(severity: str) -> int:
    """Numeric weight of a severity."""
    return SEVERITIES[severity]


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of overlapping or touching spans."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]
