"""Rule packs: YAML files of matchers that flag risky text, loaded and validated at start-up.

A pack is a file in data/rules/ (drop one in to add it). Each rule has an id, a category, a
severity, a description, an action and one or more matchers:

- `patterns`: regular expressions (compiled case-insensitively unless `case_sensitive: true`);
  a group named `value` narrows the hit to that group (the cue around it only gives context);
- `keywords`: phrases matched on word boundaries;
- `near`: two lists of phrases that must occur within `within_words` words of each other;
- `entities`: spaCy named-entity labels (e.g. PERSON) from the installed English pipeline;
- `validators`: checks a regex hit must pass (`luhn`, `iban`, `us_ssn`);
- `exclude`: regular expressions that, found within `exclude_window` characters of a hit,
  drop it (frequent false positives).

A pack may list `ignore`: regular expressions for text none of its rules reads (a contract's
cross-reference to a section title, a signature-page caption): a hit overlapping such a match
is dropped.

`action: escalate` sends the flagged span to the cloud model for judgement; `action: record`
keeps the finding locally (personal data found by a validator needs no opinion, only redaction).
A pack may also say `whole_document: {min_distinct_rules: N, max_chunks: M}`: a document of at
most M chunks in which N different escalating rules of the pack hit is escalated whole (for
text whose risk is phrased too freely for patterns, such as promotional copy).

A pack's version is the sha256 of its bytes: findings record it, so changed rules can be
re-applied without re-parsing.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from compliance.vocab import SEVERITIES
from compliance.environment import DATA_DIR

RULES_DIR = DATA_DIR / "rules"
ACTIONS = ("escalate", "record")
_RULE_KEYS = {"id", "category", "severity", "description", "action", "patterns", "keywords",
              "near", "entities", "validators", "exclude", "exclude_window", "case_sensitive",
              "redact_as"}
_WORD = re.compile(r"\w+")
_ODD_SPACES = str.maketrans({ch: " " for ch in "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004"
                             "\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"})


class RulePackError(ValueError):
    """A rule pack is malformed: the message names the file, the rule and the problem."""


def luhn_valid(digits: str) -> bool:
    """Payment card check digit."""
    numbers = [int(ch) for ch in digits if ch.isdigit()]
    if not 13 <= len(numbers) <= 19:
        return False
    total = 0
    for index, number in enumerate(reversed(numbers)):
        if index % 2 == 1:
            number *= 2
            if number > 9:
                number -= 9
        total += number
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """IBAN mod-97 check (ISO 13616)."""
    compact = re.sub(r"\s+", "", text).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def us_ssn_valid(text: str) -> bool:
    """US SSN structure: no 000/666/9xx area, no 00 group, no 0000 serial."""
    digits = re.sub(r"\D", "", text)
    if len(digits) != 9:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and not area.startswith("9") and group != "00" \
        and serial != "0000"


def phone_digits_valid(text: str) -> bool:
    """A telephone number has 8 to 15 digits (ITU E.164 allows at most 15)."""
    return 8 <= sum(ch.isdigit() for ch in text) <= 15


VALIDATORS: dict[str, Callable[[str], bool]] = {
    "phone_digits": phone_digits_valid,
    "luhn": luhn_valid,
    "iban": iban_valid,
    "us_ssn": us_ssn_valid,
}


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


def _phrase(phrase: str, flags: int) -> re.Pattern[str]:
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
        # PDFs often space words with U+00A0 and kin: patterns say ' '. One character for one
        # keeps every offset valid in the stored text.
        text = text.translate(_ODD_SPACES)
        entities = find_entities(text) if self.needs_entities else []
        hits = [hit for rule in self.rules for hit in rule.find(text, entities)]
        return sorted(hits, key=lambda h: (h.start, h.end, h.rule_id))


def _fail(path: Path, rule_id: str | None, problem: str) -> RulePackError:
    where = f"{path.name}" + (f", rule {rule_id!r}" if rule_id else "")
    return RulePackError(f"rule pack {where}: {problem}")


def _compile(path: Path, rule_id: str | None, source: str, flags: int,
             key: str | None = None) -> re.Pattern[str]:
    try:
        return re.compile(source, flags)
    except re.error as exc:
        where = f"'{key}' has an " if key else ""
        raise _fail(path, rule_id, f"{where}invalid regular expression {source!r}: {exc}"
                    ) from None


def _strings(path: Path, rule_id: str | None, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(path, rule_id, f"'{key}' must be a list of non-empty strings")
    return value


def _whole_document(path: Path, pack: str, value: Any) -> WholeDocument:
    keys = {"min_distinct_rules", "max_chunks"}
    if not isinstance(value, dict) or set(value) != keys or not all(
            isinstance(value[k], int) and not isinstance(value[k], bool) and value[k] >= 1
            for k in keys):
        raise _fail(path, None, "'whole_document' needs positive integers 'min_distinct_rules' "
                                "and 'max_chunks'")
    return WholeDocument(pack, value["min_distinct_rules"], value["max_chunks"])


def load_pack(path: Path) -> tuple[list[Rule], str, WholeDocument | None]:
    """Load and validate one pack file: its rules, its version and its whole-document policy."""
    raw_bytes = path.read_bytes()
    version = hashlib.sha256(raw_bytes).hexdigest()[:16]
    try:
        data = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as exc:
        raise _fail(path, None, f"not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise _fail(path, None, "expected a mapping with a 'rules' list")
    pack = str(data.get("pack") or path.stem)
    unknown_top = set(data) - {"pack", "rules", "whole_document", "ignore"}
    if unknown_top:
        raise _fail(path, None, f"unknown keys {sorted(unknown_top)}")
    ignore = ([_compile(path, None, p, re.IGNORECASE, "ignore")
               for p in _strings(path, None, "ignore", data["ignore"])]
              if "ignore" in data else [])
    whole = (_whole_document(path, pack, data["whole_document"]) if "whole_document" in data
             else None)
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, entry in enumerate(data["rules"]):
        if not isinstance(entry, dict):
            raise _fail(path, None, f"rule #{index + 1} is not a mapping")
        rule_id = entry.get("id")
        if not isinstance(rule_id, str) or not rule_id:
            raise _fail(path, None, f"rule #{index + 1} has no 'id'")
        if rule_id in seen:
            raise _fail(path, rule_id, "duplicate rule id")
        seen.add(rule_id)
        unknown = set(entry) - _RULE_KEYS
        if unknown:
            raise _fail(path, rule_id, f"unknown keys {sorted(unknown)}")
        for key in ("category", "severity", "description"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise _fail(path, rule_id, f"missing '{key}'")
        if entry["severity"] not in SEVERITIES:
            raise _fail(path, rule_id, f"severity must be one of {list(SEVERITIES)}")
        action = entry.get("action", "escalate")
        if action not in ACTIONS:
            raise _fail(path, rule_id, f"action must be one of {list(ACTIONS)}")
        flags = 0 if entry.get("case_sensitive") else re.IGNORECASE
        rule = Rule(id=rule_id, category=entry["category"], severity=entry["severity"],
                    description=entry["description"], action=action, pack=pack,
                    pack_version=version, ignore=ignore, redact_as=entry.get("redact_as"))
        if "patterns" in entry:
            rule.patterns = [_compile(path, rule_id, p, flags)
                             for p in _strings(path, rule_id, "patterns", entry["patterns"])]
        if "keywords" in entry:
            rule.keywords = [_phrase(k, flags)
                             for k in _strings(path, rule_id, "keywords", entry["keywords"])]
        if "near" in entry:
            near = entry["near"]
            if not isinstance(near, dict) or not {"first", "second"} <= set(near):
                raise _fail(path, rule_id, "'near' needs 'first', 'second' and 'within_words'")
            within = near.get("within_words", 8)
            if not isinstance(within, int) or within < 1:
                raise _fail(path, rule_id, "'near.within_words' must be a positive integer")
            rule.near = ([_phrase(k, flags) for k in _strings(path, rule_id, "near.first",
                                                                near["first"])],
                         [_phrase(k, flags) for k in _strings(path, rule_id, "near.second",
                                                                near["second"])], within)
        if "entities" in entry:
            rule.entities = _strings(path, rule_id, "entities", entry["entities"])
        if "validators" in entry:
            names = _strings(path, rule_id, "validators", entry["validators"])
            missing = [n for n in names if n not in VALIDATORS]
            if missing:
                raise _fail(path, rule_id, f"unknown validators {missing}; "
                            f"known: {sorted(VALIDATORS)}")
            if not rule.patterns:
                raise _fail(path, rule_id, "validators need 'patterns' to check")
            rule.validators = [VALIDATORS[n] for n in names]
        if "exclude" in entry:
            rule.exclude = [_compile(path, rule_id, p, flags)
                            for p in _strings(path, rule_id, "exclude", entry["exclude"])]
            rule.exclude_window = int(entry.get("exclude_window", 80))
        if not (rule.patterns or rule.keywords or rule.near or rule.entities):
            raise _fail(path, rule_id, "no matcher: give patterns, keywords, near or entities")
        rules.append(rule)
    return rules, version, whole


def load_rules(directory: Path | None = None) -> RuleSet:
    """Load every *.yaml pack in a folder; any malformed pack stops start-up.

    The folder is data/rules/ unless COMPLIANCE_RULES_DIR names another.
    """
    directory = directory or Path(os.environ.get("COMPLIANCE_RULES_DIR", RULES_DIR))
    rules: list[Rule] = []
    versions: dict[str, str] = {}
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not files:
        raise RulePackError(f"no rule packs (*.yaml) in {directory}")
    ids: dict[str, Path] = {}
    whole: list[WholeDocument] = []
    for path in files:
        pack_rules, version, pack_whole = load_pack(path)
        if pack_whole is not None:
            whole.append(pack_whole)
        for rule in pack_rules:
            if rule.id in ids:
                raise _fail(path, rule.id, f"rule id already defined in {ids[rule.id].name}")
            ids[rule.id] = path
        rules.extend(pack_rules)
        versions[path.stem] = version
    return RuleSet(rules, versions, whole)


_nlp: Any = None
_nlp_lock = threading.Lock()


def find_entities(text: str) -> list[tuple[str, int, int]]:
    """Named entities (label, start, end) from the installed spaCy English pipeline."""
    global _nlp
    with _nlp_lock:
        if _nlp is None:
            import spacy

            from compliance.adapters.offline_nlp import OFFLINE_SPACY_PACKAGE

            _nlp = spacy.load(OFFLINE_SPACY_PACKAGE, exclude=["lemmatizer"])
            _nlp.max_length = 2_000_000
        doc = _nlp(text)
    return [(ent.label_, ent.start_char, ent.end_char) for ent in doc.ents]


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
