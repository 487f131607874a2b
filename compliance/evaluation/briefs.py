"""`compliance eval briefs`: contract briefs scored field by field against CUAD's expert answers.

Definitions (also in the README):
- document name: equal after upper-casing and dropping punctuation and spacing; the answer or any
  of the annotators' highlighted texts counts.
- dates (agreement, effective): the same year, month and day; a part the contract leaves blank
  (CUAD's "[]") must be blank in the brief too.
- governing law: the same jurisdiction, compared on its first part ("Ontario, Canada" is
  Ontario), ignoring "State of", "Commonwealth of" and case.
- renewal term, notice period: the same amount and unit ("successive 1 year" is 1 year).
- parties: every one of the first two expert parties (one, if there is only one) is found, a
  brief party matching when it holds at least half of the expert name's words (corporate
  suffixes such as Inc. and LLC aside) and is not more than three times as long.
A field whose expert answer is empty is right when the brief leaves it empty too; `answered`
counts the contracts with an expert answer, and `accuracy_answered` scores those alone.

With `--train`, the rules' settings (`compliance/briefs/settings.py`) are chosen again inside
grouped k-fold cross-validation on that set: on each fold's other folds, every combination of a
settings group is scored on the group's fields and the best kept;
the held-out fold is then scored with it. The CV column is those held-out answers. Fields no
setting serves are scored as they are (nothing is chosen for them). Ties go to the first
combination in grid order, which lists the smaller windows first.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold

from compliance.briefs.brief import document_brief
from compliance.briefs.contract import NUMBER_WORDS
from compliance.briefs.dates import parse_answer
from compliance.briefs.fields import BriefField
from compliance.briefs.settings import DEFAULT_SETTINGS, SETTING_GRID, BriefSettings

# Brief field -> CUAD meta key.
FIELDS: dict[str, str] = {
    "title": "Document Name",
    "parties": "Parties",
    "agreement_date": "Agreement Date",
    "effective_date": "Effective Date",
    "governing_law": "Governing Law",
    "renewal_term": "Renewal Term",
    "notice_to_terminate_renewal": "Notice Period To Terminate Renewal",
}
# Targets from issue #17, on CUAD dev.
TARGETS = {"governing_law": 0.90, "agreement_date": 0.80, "title": 0.80, "parties": 0.70}
_SUFFIXES = {"inc", "incorporated", "corp", "corporation", "co", "company", "llc", "ltd",
             "limited", "lp", "l", "p", "plc", "the", "n", "a", "s", "sa", "ag", "gmbh", "bv",
             "nv", "of", "and", "llp", "pty"}
_JURISDICTION_PREFIX = re.compile(
    r"^(?:the\s+)?(?:state|commonwealth|province|republic|federal\s+republic|kingdom)\s+of\s+",
    re.IGNORECASE)


def normalize_title(value: str) -> str:
    """Upper case, letters and digits only, single spaces."""
    return " ".join(re.sub(r"[^A-Z0-9]+", " ", value.upper()).split())


def normalize_jurisdiction(value: str) -> str:
    """'the State of New York' and 'New York, USA' both become 'new york'."""
    first = re.split(r",|;|\s+and\s+", value.strip())[0].strip()
    return " ".join(_JURISDICTION_PREFIX.sub("", first).lower().split())


def normalize_period(value: str) -> tuple[int, str] | None:
    """'successive 1 year', '12 months' -> (1, 'year'), (12, 'month'); None if no period."""
    match = re.search(r"(\d+|one|two|three|four|five|six|ten)\s*-?\s*(day|week|month|year)",
                      value, re.IGNORECASE)
    if not match:
        return None
    number = match.group(1).lower()
    amount = int(number) if number.isdigit() else NUMBER_WORDS[number]
    unit = match.group(2).lower()
    if unit == "month" and amount % 12 == 0 and amount:
        return amount // 12, "year"
    return amount, unit


def _name_words(name: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", name.lower()) if w not in _SUFFIXES}


def expert_parties(answer: str) -> list[str]:
    """The expert's party names without their quoted aliases, in the order given."""
    names = []
    for part in answer.split(";"):
        name = re.sub(r"\([^)]*\)|\(.*$", "", part)
        name = re.sub(r"[\"“”]", "", name).strip(" ,.")
        if _name_words(name):
            names.append(name)
    return names


def party_matches(expert: str, found: str) -> bool:
    """Whether a brief's party names the expert's party (half its words, not 3x as long)."""
    want, got = _name_words(expert), _name_words(re.sub(r"\(.*$", "", found))
    if not want or not got:
        return False
    return len(want & got) / len(want) >= 0.5 and len(got) <= 3 * len(want) + 2


def _date_parts(iso: str) -> tuple[int, int | None, int | None]:
    parts = [int(p) for p in iso.split("-")]
    return parts[0], parts[1] if len(parts) > 1 else None, parts[2] if len(parts) > 2 else None


def field_correct(name: str, expert: dict[str, Any], found: list[BriefField]) -> bool | None:
    """Whether the brief gets the field right; None where the expert gave no usable answer."""
    answer = str(expert.get("answer") or "").strip()
    values = [f.value for f in found]
    if name == "parties":
        wanted = expert_parties(answer)[:2]
        if not wanted:
            return not values
        return all(any(party_matches(w, v) for v in values) for w in wanted)
    value = values[0] if values else None
    if not answer:
        return value is None
    if value is None:
        return False
    if name == "title":
        texts = [answer, *expert.get("texts", [])]
        return normalize_title(value) in {normalize_title(t) for t in texts}
    if name in ("agreement_date", "effective_date"):
        gold = parse_answer(answer)
        return gold is not None and _date_parts(value) == gold
    if name == "governing_law":
        return normalize_jurisdiction(value) == normalize_jurisdiction(answer)
    return normalize_period(value) == normalize_period(answer)


def _expert_has_answer(name: str, expert: dict[str, Any]) -> bool:
    answer = str(expert.get("answer") or "").strip()
    return bool(expert_parties(answer)) if name == "parties" else bool(answer)


@dataclass
class FieldScore:
    """Right answers for one field over a set of contracts."""

    right: int = 0
    total: int = 0
    answered: int = 0
    right_answered: int = 0
    misses: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"accuracy": round(self.right / self.total, 4) if self.total else None,
                "contracts": self.total, "answered": self.answered,
                "accuracy_answered": (round(self.right_answered / self.answered, 4)
                                      if self.answered else None)}


def record_results(record: dict[str, Any],
                   settings: BriefSettings = DEFAULT_SETTINGS) -> dict[str, bool | None]:
    """Whether the brief of one CUAD record gets each field right (None: not scored)."""
    brief = document_brief(record["text"], settings)
    results: dict[str, bool | None] = {}
    for name, meta_key in FIELDS.items():
        expert = record.get("meta", {}).get(meta_key)
        found = [f for f in brief if f.field == ("party" if name == "parties" else name)]
        results[name] = None if expert is None else field_correct(name, expert, found)
    return results


def score_records(records: Iterable[dict[str, Any]]) -> dict[str, FieldScore]:
    """Each field's score over CUAD records (doc_id, text, meta)."""
    scores = {name: FieldScore() for name in FIELDS}
    for record in records:
        results = record_results(record)
        for name, meta_key in FIELDS.items():
            expert = record.get("meta", {}).get(meta_key)
            correct = results[name]
            if expert is None or correct is None:
                continue
            score = scores[name]
            score.total += 1
            score.right += int(correct)
            if _expert_has_answer(name, expert):
                score.answered += 1
                score.right_answered += int(correct)
            if not correct:
                score.misses.append(str(record.get("doc_id")))
    return scores


def read_records(path: Path) -> list[dict[str, Any]]:
    """CUAD records from a .jsonl file."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


Combination = dict[str, int]


def _combinations(settings_group: dict[str, tuple[int, ...]]) -> list[Combination]:
    names = list(settings_group)
    return [dict(zip(names, values, strict=True))
            for values in itertools.product(*settings_group.values())]


def _right_answers(records: Sequence[dict[str, Any]],
                   settings: BriefSettings) -> dict[str, np.ndarray]:
    """Per field, one entry per record: 1 right, 0 wrong, -1 not scored."""
    rows = [record_results(record, settings) for record in records]
    return {name: np.array([-1 if row[name] is None else int(bool(row[name])) for row in rows])
            for name in FIELDS}


def _choose(answers: list[dict[str, np.ndarray]], fields: tuple[str, ...],
            rows: np.ndarray) -> int:
    """The combination with the most right answers on `rows`; the first in grid order on a tie
    (never the shipped one: that was chosen on every fold, the held-out one included)."""
    totals = [sum(int((answer[name][rows] == 1).sum()) for name in fields) for answer in answers]
    return totals.index(max(totals))


def cross_validate(records: Sequence[dict[str, Any]], folds: int = 5,
                   grid: dict[tuple[str, ...], dict[str, tuple[int, ...]]] = SETTING_GRID,
                   shipped: BriefSettings = DEFAULT_SETTINGS) -> dict[str, Any]:
    """Out-of-fold field scores with the settings chosen on the other folds (grouped by
    document), the choice of each fold and of the whole set, and whether the shipped settings
    are that whole-set choice."""
    groups = [str(record.get("doc_id", i)) for i, record in enumerate(records)]
    splits = list(GroupKFold(n_splits=folds).split(np.zeros(len(records)), groups=groups))
    cache: dict[BriefSettings, dict[str, np.ndarray]] = {}
    out_of_fold = _right_answers(records, shipped)
    cache[shipped] = out_of_fold
    out_of_fold = {name: answer.copy() for name, answer in out_of_fold.items()}
    everything = np.arange(len(records))
    by_fold: dict[str, list[Combination]] = {}
    whole: Combination = {}
    for fields, settings_group in grid.items():
        combinations = _combinations(settings_group)
        answers = []
        for combination in combinations:
            settings = replace(shipped, **combination)
            if settings not in cache:
                print(f"  briefs with {combination} ...", file=sys.stderr)
                cache[settings] = _right_answers(records, settings)
            answers.append(cache[settings])
        chosen = []
        for train_rows, test_rows in splits:
            pick = _choose(answers, fields, train_rows)
            chosen.append(combinations[pick])
            for name in fields:
                out_of_fold[name][test_rows] = answers[pick][name][test_rows]
        by_fold[" ".join(fields)] = chosen
        whole.update(combinations[_choose(answers, fields, everything)])
    scores: dict[str, Any] = {}
    for name, answer in out_of_fold.items():
        scored = answer >= 0
        per_fold = [float(answer[rows][scored[rows]].mean()) if scored[rows].any() else None
                    for _, rows in splits]
        scores[name] = {"accuracy": round(float(answer[scored].mean()), 4) if scored.any()
                        else None, "contracts": int(scored.sum()),
                        "fold_accuracies": [None if a is None else round(a, 4)
                                            for a in per_fold],
                        "chosen": any(name in fields for fields in grid)}
    shipped_values = {name: value for name, value in asdict(shipped).items() if name in whole}
    return {"folds": folds, "fields": scores, "chosen_by_fold": by_fold,
            "chosen_on_whole_set": whole, "shipped": shipped_values,
            "shipped_is_whole_set_choice": whole == shipped_values}


def evaluate_sets(paths: Sequence[Path], train: Path | None = None,
                  folds: int = 5) -> dict[str, Any]:
    """The field table for every set (and, given a training set, its cross-validated column
    beside its in-sample one); with the issue's targets."""
    result: dict[str, Any] = {"fields": list(FIELDS), "targets": TARGETS, "sets": {}}
    for path in ([train] if train else []) + [p for p in paths if p != train]:
        records = read_records(path)
        scores = score_records(records)
        result["sets"][path.name] = {name: score.as_dict() for name, score in scores.items()}
        if path == train:
            validation = cross_validate(records, folds)
            result["sets"][f"{path.name} ({folds}-fold CV)"] = validation.pop("fields")
            result["cross_validation"] = {"set": path.name, **validation}
    return result


def format_settings(validation: dict[str, Any]) -> str:
    """Which settings the whole training set chooses, and whether they are the shipped ones."""
    whole = ", ".join(f"{k}={v}" for k, v in validation["chosen_on_whole_set"].items())
    verdict = ("the shipped defaults" if validation["shipped_is_whole_set_choice"] else
               "NOT the shipped defaults (" + ", ".join(
                   f"{k}={v}" for k, v in validation["shipped"].items()) + ")")
    changed = {group: len({json.dumps(c, sort_keys=True) for c in chosen})
               for group, chosen in validation["chosen_by_fold"].items()}
    unstable = [group for group, kinds in changed.items() if kinds > 1]
    return (f"Settings chosen on the whole of {validation['set']}: {whole}: {verdict}. "
            f"Folds that chose differently: {', '.join(unstable) if unstable else 'none'}.")


def format_table(result: dict[str, Any]) -> str:
    """The field table as markdown: one column per set."""
    sets = list(result["sets"])
    lines = ["| field | " + " | ".join(sets) + " | target |",
             "|---|" + "--:|" * len(sets) + "--:|"]
    for name in result["fields"]:
        cells = []
        for set_name in sets:
            score = result["sets"][set_name][name]
            accuracy = score["accuracy"]
            cells.append("–" if accuracy is None else f"{accuracy:.3f}")
        target = result["targets"].get(name)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {target or ''} |")
    return "\n".join(lines)
