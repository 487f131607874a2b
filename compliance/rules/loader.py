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

The rules are compiled into compliance.rules.matching's Rule and RuleSet; validators are named
from compliance.rules.validators.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml

from compliance.environment import rules_dir
from compliance.rules.matching import Rule, RuleSet, WholeDocument, phrase_pattern
from compliance.rules.validators import VALIDATORS
from compliance.vocab import SEVERITIES

ACTIONS = ("escalate", "record")
_RULE_KEYS = {"id", "category", "severity", "description", "action", "patterns", "keywords",
              "near", "entities", "validators", "exclude", "exclude_window", "case_sensitive",
              "redact_as"}


class RulePackError(ValueError):
    """A rule pack is malformed: the message names the file, the rule and the problem."""


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
            rule.keywords = [phrase_pattern(k, flags)
                             for k in _strings(path, rule_id, "keywords", entry["keywords"])]
        if "near" in entry:
            near = entry["near"]
            if not isinstance(near, dict) or not {"first", "second"} <= set(near):
                raise _fail(path, rule_id, "'near' needs 'first', 'second' and 'within_words'")
            within = near.get("within_words", 8)
            if not isinstance(within, int) or within < 1:
                raise _fail(path, rule_id, "'near.within_words' must be a positive integer")
            first = _strings(path, rule_id, "near.first", near["first"])
            second = _strings(path, rule_id, "near.second", near["second"])
            rule.near = ([phrase_pattern(k, flags) for k in first],
                         [phrase_pattern(k, flags) for k in second], within)
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
    directory = directory or rules_dir()
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
