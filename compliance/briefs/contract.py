"""What has a shape in a contract: its title, parties, dates, term and governing law, by rule.

Each finder reads the stored text and returns BriefFields whose spans point into it. The
patterns were written against `cuad_train.jsonl`; `compliance eval briefs` scores them there
and on `cuad_dev.jsonl`, kept for validation (the README says what was seen there).
"""

from __future__ import annotations

import re

from compliance.briefs.dates import FoundDate, find_dates
from compliance.briefs.fields import BriefField
from compliance.briefs.settings import DEFAULT_SETTINGS, BriefSettings

# The preamble (title, parties, date) sits before the recitals or the first numbered section.
PREAMBLE_CHARS = 4000
_PREAMBLE_END = re.compile(
    r"\b(?:WHEREAS|W I T N E S S E T H|WITNESSETH|RECITALS?|BACKGROUND|NOW,? THEREFORE|"
    r"In consideration of|The parties (?:hereby )?(?:mutually )?agree)\b")
_TITLE_WORD = re.compile(
    r"\b(?:AGREEMENT|CONTRACT|LICEN[CS]E|LEASE|AMENDMENT|ADDENDUM|TERMS|CONDITIONS|PLAN|"
    r"INDENTURE|GUARANT(?:Y|EE)|MEMORANDUM|PROTOCOL|ARRANGEMENT|DEED|UNDERTAKING|"
    r"STATEMENT OF WORK|ORDER|LETTER|NOTE|CHARTER)\b", re.IGNORECASE)
_NOT_TITLE = re.compile(
    r"^(?:(?:THIS|THE|BY|IN|SOURCE|CONTRACT\s+NO|PAGE|CONFIDENTIAL|CERTAIN|PORTIONS|WHEREAS|"
    r"NOW)\b|\[|\*|\d+\.|\(?[a-z]\))", re.IGNORECASE)
_SPLIT_LINES = re.compile(r"\n|\s{3,}")

_BETWEEN = re.compile(r"\b(?:by\s+and\s+)?(?:between|among|amongst)\s*:?\s+", re.IGNORECASE)
_ALIAS = re.compile(
    r"\(\s*(?:(?:the|each|hereinafter|hereafter|herein|collectively|individually|together|"
    r"referred|to|as|called|also|,|\s)+)?[\"“”']+(?P<alias>[^\"“”()]{1,60})[\"“”']+")
_NAME_END = re.compile(
    r",?\s+(?:an?\s+(?:[A-Z][\w.-]*\s+){0,6}(?:corporation|company|limited|partnership|"
    r"association|bank|trust|entity|societe|société|organization|body|GmbH|AG|S\.A\.|"
    r"individual|resident|national|citizen)\b|having|with\s+(?:its|a|offices|principal)|"
    r"whose|located|organized|organised|incorporated|existing|represented|acting|residing|"
    r"domiciled|formerly|on\s+behalf|its\s+principal|a\s+corporation|an\s+individual)"
    r"|,\s+an?\s+|\s+\(|,\s+\d|\s+\d{2,}\s|\s+d/?b/?a\b|\s+dba\b|,?\s+its\s+",
    re.IGNORECASE)
_MADE_BY = re.compile(r"\b(?:entered\s+into|made|executed)\s+(?:\w+\s+){0,3}?by\s+",
                      re.IGNORECASE)
_AND = re.compile(r"(?:(?<=\))|(?<=,)|(?<=\.))\s*(?:,\s*)?\b(?:and|&)\b\s*,?\s*"
                  r"|(?<=\))\s*[,;]\s*(?=(?:\(\w{1,3}\)\s*)?(?-i:[A-Z]))", re.IGNORECASE)

_LAW_ANCHOR = re.compile(r"\bPRC\s+laws?\b|\blaws?\b|\bregulations\s+of\b", re.IGNORECASE)
_LAW_CUE = re.compile(r"\b(?:govern|constru|interpret|enforce|controlled|accordance|applied|"
                      r"apply|applicable|reference\s+to\s+the\s+laws|subject\s+to)",
                      re.IGNORECASE)
_STRONG_LAW_CUE = re.compile(r"\b(?:govern|constru|interpret)", re.IGNORECASE)
_NOT_LAW = re.compile(r"\b(?:organi[sz]ed|incorporated|existing|formed|registered|chartered)"
                      r"\s+(?:and\s+existing\s+)?(?:under|pursuant\s+to|in\s+accordance\s+with)"
                      r"\s+(?:the\s+)?$", re.IGNORECASE)
US_STATES = (
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut",
    "Delaware", "District of Columbia", "Florida", "Georgia", "Hawaii", "Idaho", "Illinois",
    "Indiana", "Iowa", "Kansas", "Kentucky", "Louisiana", "Maine", "Maryland", "Massachusetts",
    "Michigan", "Minnesota", "Mississippi", "Missouri", "Montana", "Nebraska", "Nevada",
    "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota",
    "Ohio", "Oklahoma", "Oregon", "Pennsylvania", "Rhode Island", "South Carolina",
    "South Dakota", "Tennessee", "Texas", "Utah", "Vermont", "Virginia", "Washington",
    "West Virginia", "Wisconsin", "Wyoming", "Puerto Rico")
PROVINCES = ("Ontario", "Quebec", "British Columbia", "Alberta", "Manitoba", "Nova Scotia",
             "New Brunswick", "Saskatchewan", "New South Wales", "Victoria", "Queensland",
             "Hong Kong", "Scotland", "England and Wales", "England", "Bavaria")
COUNTRIES = (
    "United States", "Canada", "United Kingdom", "Germany", "France", "Switzerland",
    "Netherlands", "Sweden", "Norway", "Denmark", "Finland", "Ireland", "Israel", "Italy",
    "Spain", "Japan", "China", "People's Republic of China", "India", "Singapore", "Korea",
    "Taiwan", "Australia", "New Zealand", "Luxembourg", "Belgium", "Austria", "Bermuda",
    "Cayman Islands", "British Virgin Islands", "Mexico", "Brazil", "Hong Kong", "Malaysia",
    "Thailand", "Philippines", "Indonesia", "South Africa", "Cyprus", "Greece", "Portugal",
    "Poland", "Czech Republic", "Russia", "Turkey", "Argentina", "Chile")
# Other ways a text names a jurisdiction.
ALIASES = {"PRC": "People's Republic of China", "P.R.C.": "People's Republic of China",
           "U.S.A.": "United States", "USA": "United States", "Commonwealth of Virginia":
           "Virginia"}
_PLACES = [(ALIASES.get(place, place),
            re.compile(r"\b" + re.escape(place).replace(r"\ ", r"\s+") + r"(?!\w)",
                       re.IGNORECASE if place not in ALIASES else 0))
           for place in sorted(set(US_STATES + PROVINCES + COUNTRIES) | set(ALIASES),
                               key=len, reverse=True)]
_SPECIFIC = set(US_STATES + PROVINCES)

_TERM_NUMBER = (r"(?:\(?\b(?P<n>\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|"
                r"eleven|twelve|fifteen|twenty|thirty|forty-?five|sixty|ninety|"
                r"one hundred (?:and )?twenty|one hundred (?:and )?eighty)\b\)?\s*(?:\(\d+\)\s*)?)")
_UNIT = r"(?P<unit>days?|months?|years?|weeks?)"
_NOTICE = re.compile(
    rf"(?:at\s+least|no\s+(?:less|later)\s+than|not\s+less\s+than|minimum\s+of|upon|with|"
    rf"giving)\s+(?:the\s+)?(?:written\s+)?{_TERM_NUMBER}(?:calendar\s+|business\s+)?{_UNIT}"
    rf"[^.;]{{0,80}}?(?:prior|before|in\s+advance|notice)[^.;]{{0,160}}?"
    rf"(?:expir|end\s+of|renew|current\s+term|then[- ]current|initial\s+term)", re.IGNORECASE)
_RENEWAL = re.compile(
    rf"(?:automatically|successive|additional|renew(?:ed|al)?)[^.;]{{0,80}}?"
    rf"{_TERM_NUMBER}(?:-|\s)?{_UNIT.replace('s?', 's?')}", re.IGNORECASE)
_RENEWAL_CONTEXT = re.compile(r"renew|extend|extension", re.IGNORECASE)
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
                 "twenty": 20, "thirty": 30, "forty-five": 45, "fortyfive": 45, "sixty": 60,
                 "ninety": 90, "one hundred twenty": 120, "one hundred and twenty": 120,
                 "one hundred eighty": 180, "one hundred and eighty": 180}


def _span_field(name: str, value: str, start: int, end: int) -> BriefField:
    """A field found by rule."""
    return BriefField(name, value, "rule", start, end)


def preamble_end(text: str, chars: int = PREAMBLE_CHARS) -> int:
    """Where the preamble ends: the recitals, or `chars` in, whichever comes first."""
    window = text[:chars]
    for match in _PREAMBLE_END.finditer(window):
        if match.start() > 80:
            return match.start()
    return len(window)


_TITLE_NOISE = re.compile(
    r"^(?:exhibit\s+[\w.()-]+|\d+(?:\.\d+)*\s|\(translation\)|\[?logo\]?|execution\s+(?:copy|version)"
    r"|page\s+\d+\s+of\s+\d+)\s*"
    r"|\s*\((?:the|this)\s+[\"“].*$|\s+dated\b.*$"
    r"|^(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december)\s+\d{1,2},?\s+\d{4}\s+", re.IGNORECASE)
# The preamble's first sentence often runs on from the title line: "... AGREEMENT THIS ...".
_SENTENCE_ON = re.compile(r"\s+(?:THIS|This)\s.*$|\s+[A-Z][A-Za-z]*\s+(?:is|are)\s+(?:made|"
                          r"entered)\b.*$|\s+(?:by\s+and\s+)?(?:Between|BETWEEN)\s.*$")
# A numbered section running on from the title: "Hosting Agreement 1.0 Introduction".
_SECTION_ON = re.compile(r"\s+\d+(?:\.\d+)*\s+[A-Z][a-z].*$")
_NUMBER_LINE = re.compile(r"\b(?:No\.?|Number|Ref\.?)\s*:", re.IGNORECASE)
_UPPER_TITLE = re.compile(
    r"(?<![\w.])(?:(?:[A-Z][A-Z&'/,®-]*|-)\s+){0,8}(?:AGREEMENT|CONTRACT|LICENSE|LEASE|"
    r"AMENDMENT|ADDENDUM|TERMS AND CONDITIONS|PLAN|INDENTURE|GUARANTY|MEMORANDUM|PROTOCOL|"
    r"STATEMENT|UNDERTAKING|ARRANGEMENT)(?:\s+(?:NO\.\s*|#\s*)\d+)?(?:\s+(?:OF|TO|FOR|AND)\b"
    r"(?:\s+[A-Z0-9][A-Z0-9&'/-]*){1,6})?(?![\w])")


# "PREMIER NUTRITION CORPORATION MANUFACTURING AGREEMENT": the owner's name is not the title.
_OWNER = re.compile(r"^.*\b(?:INC|INCORPORATED|CORPORATION|CORP|LLC|LTD|LIMITED|HERETO)\b\.?,?\s+"
                    r"(?=\S+\s+\S)", re.IGNORECASE)


def _without_repeats(title: str) -> str:
    """The title without an owner's name before it, 'X AGREEMENT AGREEMENT' said once."""
    words = _OWNER.sub("", title).split()
    half = len(words) // 2
    if len(words) % 2 == 0 and words[:half] == words[half:]:
        words = words[:half]
    kept = [w for i, w in enumerate(words) if i == 0 or w != words[i - 1]]
    return " ".join(kept)


# EDGAR's confidential-treatment legend often shares the title's line and comes before it.
_LEGEND = re.compile(r"omitted|redacted|confidential\s+treatment|filed\s+separately|"
                     r"excluded\s+from|competitive\s+harm|securities\s+and\s+exchange",
                     re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”\]]?\s+(?=[A-Z])")


def _without_legend(line: str) -> str:
    """The line after the legend sentences it opens with (the title often follows them)."""
    line = _TITLE_NOISE.sub("", line)
    while _LEGEND.search(line[:400]):
        end = _SENTENCE_END.search(line)
        if end is None or not _LEGEND.search(line[:end.start()]):
            return line
        line = _TITLE_NOISE.sub("", line[end.end():])
    return line


_QUALIFIER = re.compile(r"\s*\((?![\"“']|the\b|this\b|here|each|collectively)[^()]{1,40}\)",
                        re.IGNORECASE)


def _qualifier(rest: str) -> str:
    """A title's parenthesized qualifier right after it: "(2014 Amendment)", "(FORM)"."""
    match = _QUALIFIER.match(rest)
    return match.group() if match else ""


def _title_candidate(piece: str) -> tuple[str, int, int, bool] | None:
    """(title, start, end within piece, upper case) when the piece reads as a title."""
    line = _SENTENCE_ON.sub("", _without_legend(" ".join(piece.split())))
    line = _TITLE_NOISE.sub("", line).strip(" .:-_*")
    line = _TITLE_NOISE.sub("", line).strip(" .:-_*,")
    line = _SECTION_ON.sub("", line)
    number = _NUMBER_LINE.search(line)  # "SUPPLY CONTRACT Contract No: ..." ends the title
    line = line[:number.start()].strip() if number else line
    if number and len(line.split()) < 2:
        return None
    if not line or not _TITLE_WORD.search(line) or _NOT_TITLE.match(line):
        return None
    letters = [c for c in line if c.isalpha()]
    upper = sum(c.isupper() for c in letters) / max(1, len(letters))
    words = line.split()
    run = _UPPER_TITLE.search(line)  # the title without what runs on before or after it
    title = run and run.group() + _qualifier(line[run.end():])
    if (upper > 0.8 and len(words) <= 14) or (run and title and len(run.group().split()) >= 2):
        value = _without_repeats(" ".join((title or line).split()))
        return (value, *_locate(value, piece), True)
    if (len(words) <= 10 and ". " not in line and not line.endswith(",")
            and (line[0].isupper() or line[:2] == "e-")
            and _TITLE_WORD.search(" ".join(words[-3:]))):
        value = _without_repeats(line)
        return (value, *_locate(value, piece), False)
    return None


def _locate(value: str, piece: str) -> tuple[int, int]:
    """Where the title stands in its piece of line (the whole piece if not word for word)."""
    found = re.search(r"\s+".join(map(re.escape, value.split())), piece)
    return (found.start(), found.end()) if found else (0, len(piece))


def find_title(text: str, settings: BriefSettings = DEFAULT_SETTINGS) -> BriefField | None:
    """The document's name: the first short title-like line of its opening, upper case first."""
    fallback: BriefField | None = None
    for match in re.finditer(r"[^\n]+", text[:settings.title_chars]):
        for piece in _SPLIT_LINES.split(match.group()):
            found = _title_candidate(piece)
            if found is None:
                continue
            value, start, end, upper = found
            offset = text.find(piece, match.start())
            field = _span_field("title", value, offset + start, offset + end)
            if upper and len(value.split()) > 1:
                return field
            fallback = fallback or field  # a title-case line, or a bare "AGREEMENT"
    if fallback:
        return fallback
    preamble = re.search(r"\bThis\s+([\"“]?[A-Z][\w\-\s\"“”]{2,80}?\bAgreement)\b",
                         text[:PREAMBLE_CHARS])
    if preamble:
        value = re.sub(r"[\"“”]", "", " ".join(preamble.group(1).split()))
        return _span_field("title", value, preamble.start(1), preamble.end(1))
    return None


def _party_name(part: str) -> str:
    """A party's name from the text that introduces it: up to its description or alias."""
    end = _NAME_END.search(part)
    name = part[:end.start()] if end else part[:120]
    name = name.strip(" ,;:\"“”'")
    return re.sub(r"^(?:and|&)\s+", "", name, flags=re.IGNORECASE)


# Contracts translated from Chinese name their parties on labelled lines: "Party A: Name".
_LABELLED_PARTY = re.compile(
    r"\b(?P<label>Party\s+[A-D])\s*(?:\([^)\n]{1,30}\))?\s*[:：]\s*"
    r"(?P<name>[A-Z][^\n;]{1,118}?)(?=\s{2,}|\n|;|\s+(?:Address|Add|Legal|Registered|"
    r"Domicile|Tel|Party\s+[A-D]\b|\(seal\))|$)")


def _labelled_parties(text: str, chars: int) -> list[BriefField]:
    """'Party A: Name ... Party B: Name' in the first `chars`, each label's first line only."""
    parties: dict[str, BriefField] = {}
    for match in _LABELLED_PARTY.finditer(text, 0, chars):
        label = " ".join(match.group("label").split())
        name = match.group("name").strip(" ,.")
        if label in parties or name.lower().startswith(("name", "party")):
            continue
        parties[label] = _span_field("party", f'{name} ("{label}")', match.start("name"),
                                     match.end("name"))
    return list(parties.values()) if len(parties) >= 2 else []


def find_parties(text: str, settings: BriefSettings = DEFAULT_SETTINGS) -> list[BriefField]:
    """The parties named in the preamble ("by and between A ... and B ..."), with their aliases."""
    labelled = _labelled_parties(text, settings.party_preamble_chars)
    if labelled:
        return labelled
    end = preamble_end(text, settings.party_preamble_chars)
    between = _BETWEEN.search(text, 0, end) or _MADE_BY.search(text, 0, end)
    if between is not None:
        start = between.end()
    else:  # "A ("Alias") and B ("Alias") agree ...": start at the line of the first alias
        alias = _ALIAS.search(text, 0, end)
        if alias is None:
            return []
        start = text.rfind("\n", 0, alias.start()) + 1
    body = text[start:min(end, start + settings.party_body_chars)]
    pieces: list[tuple[int, int]] = []
    last = 0
    plain = _AND.search(body) is None
    splitter = re.compile(r"\s+(?:and|&)\s+", re.IGNORECASE) if plain else _AND
    for match in splitter.finditer(body):
        pieces.append((last, match.start()))
        last = match.end()
        if plain:
            break
    pieces.append((last, len(body)))
    parties: list[BriefField] = []
    for piece_start, piece_end in pieces[:8]:
        part = body[piece_start:piece_end]
        flat = " ".join(part.split())
        name = _party_name(flat)
        if not (2 <= len(name) <= 120) or not any(c.isalpha() for c in name):
            continue
        if re.search(r"[$]|--", name):
            continue  # an amount or a form's blank, not a name
        if re.match(r"(?:the\s+)?(?:parties|party|each|collectively|individually)\b", name,
                    re.IGNORECASE):
            continue
        aliases = [m.group("alias").strip() for m in _ALIAS.finditer(part)]
        aliases = [a for a in aliases if a.lower() not in {"party", "parties", "a party",
                                                            "the parties"}]
        value = name + (f' ("{aliases[0]}")' if aliases else "")
        offset = start + piece_start + max(0, part.find(name.split()[0]))
        parties.append(_span_field("party", value, offset, start + piece_end))
    return parties


def _date_near(text: str, dates: list[FoundDate], cue: re.Pattern[str],
               reach: int) -> FoundDate | None:
    """The first date preceded (within `reach` characters) by the cue."""
    for date in dates:
        if _FILING_LINE.search(text, max(0, date.start - 80), date.start):
            continue
        if cue.search(text[max(0, date.start - reach):date.start]):
            return date
    return None


_AGREEMENT_CUE = re.compile(
    r"(?:dated|made|entered\s+into|as\s+of|effective|executed|signed|day\s+of|this|on|date)"
    r"[\s\w,]*$", re.IGNORECASE)
# EDGAR's "Source: COMPANY, 8-K, 11/6/2019" lines date the filing, not the agreement.
_FILING_LINE = re.compile(r"Source:[^\n]*$")
_EFFECTIVE_DEFINED = re.compile(r"[\"“]Effective\s+Date[\"”]", re.IGNORECASE)
_EFFECTIVE_CUE = re.compile(r"effective\s+(?:as\s+of|on|from|date)?[\s\w,]*$", re.IGNORECASE)
_FIRST_ABOVE = re.compile(r"Effective\s+Date[\"”]?\s+(?:shall\s+)?(?:mean|be|is)[^.]{0,40}"
                          r"date\s+(?:first\s+)?(?:written|set\s+forth|above|hereof|of\s+this)",
                          re.IGNORECASE)


def find_dates_of_agreement(text: str,
                            settings: BriefSettings = DEFAULT_SETTINGS) -> list[BriefField]:
    """The agreement date (from the preamble) and the effective date where the text gives one."""
    end = preamble_end(text, settings.date_preamble_chars)
    preamble_dates = [d for d in find_dates(text[:end])]
    fields: list[BriefField] = []
    agreement = _date_near(text, preamble_dates, _AGREEMENT_CUE, settings.date_cue_chars)
    if agreement is None:
        agreement = next((d for d in preamble_dates
                          if not _FILING_LINE.search(text, max(0, d.start - 80), d.start)), None)
    if agreement is not None:
        fields.append(_span_field("agreement_date", agreement.iso, agreement.start,
                                  agreement.end))
    effective: FoundDate | None = None
    defined = _EFFECTIVE_DEFINED.search(text, 0,
                                        min(len(text), settings.date_preamble_chars * 2))
    if defined:
        before = [d for d in find_dates(text[max(0, defined.start() - 200):defined.start()])]
        if before:
            near = before[-1]
            offset = max(0, defined.start() - 200)
            effective = FoundDate(near.year, near.month, near.day, near.start + offset,
                                  near.end + offset)
    if effective is None:
        effective = _date_near(text, preamble_dates, _EFFECTIVE_CUE, settings.date_cue_chars)
    if effective is None and agreement is not None and _FIRST_ABOVE.search(text):
        effective = agreement
    if effective is not None:
        fields.append(_span_field("effective_date", effective.iso, effective.start,
                                  effective.end))
    return fields


def _sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence holding text[start:end], at most 300 characters each way."""
    left = max(text.rfind(".", max(0, start - 300), start), text.rfind(";", max(0, start - 300),
                                                                         start))
    left = left + 1 if left >= 0 else max(0, start - 300)
    right_candidates = [i for i in (text.find(".", end, end + 300), text.find(";", end, end + 300))
                        if i >= 0]
    right = min(right_candidates) if right_candidates else min(len(text), end + 300)
    return left, right


def find_governing_law(text: str,
                       settings: BriefSettings = DEFAULT_SETTINGS) -> BriefField | None:
    """The jurisdiction whose law governs: a state or province before its country.

    A sentence that says "governed" or "construed" wins over one that only applies some law.
    """
    anchors = list(_LAW_ANCHOR.finditer(text))
    for cue in (_STRONG_LAW_CUE, _LAW_CUE):
        found = _governing_law_with(text, anchors, cue, settings.law_reach_chars)
        if found:
            return found
    return None


def _governing_law_with(text: str, anchors: list[re.Match[str]], cue: re.Pattern[str],
                        reach: int) -> BriefField | None:
    """The first jurisdiction named after a law anchor in a sentence holding the cue."""
    for anchor in anchors:
        if _NOT_LAW.search(text[max(0, anchor.start() - 60):anchor.start()]):
            continue
        left, right = _sentence_around(text, anchor.start(), anchor.end())
        if not cue.search(text, left, right):
            continue
        region_start = anchor.start() if anchor.group().upper().startswith("LAW") else left
        hits: list[tuple[int, str, int, int]] = []
        for place, pattern in _PLACES:
            for hit in pattern.finditer(text, region_start, min(right, anchor.end() + reach)):
                if not any(h[2] <= hit.start() < h[3] for h in hits):
                    hits.append((0 if place in _SPECIFIC else 1, place, hit.start(), hit.end()))
        if hits:
            hits.sort(key=lambda h: (h[2], h[0]))
            first_specific = [h for h in hits if h[0] == 0][:1]
            _, place, s, e = (first_specific or hits)[0]
            return _span_field("governing_law", place, s, e)
    return None


def _period(match: re.Match[str]) -> str:
    """'ninety (90) days' -> '90 days'; 'one (1) year' -> '1 year'."""
    number = match.group("n").lower().replace("  ", " ")
    amount = int(number) if number.isdigit() else NUMBER_WORDS.get(number.replace("-", ""),
                                                                    NUMBER_WORDS.get(number, 0))
    unit = match.group("unit").lower().rstrip("s")
    return f"{amount} {unit}{'s' if amount != 1 else ''}"


def find_term(text: str) -> list[BriefField]:
    """The renewal term and the notice period to stop a renewal, where the text states them."""
    fields: list[BriefField] = []
    notice = _NOTICE.search(text)
    if notice:
        fields.append(_span_field("notice_to_terminate_renewal", _period(notice),
                                  notice.start(), notice.end()))
    for renewal in _RENEWAL.finditer(text):
        window = text[max(0, renewal.start() - 200):renewal.end() + 50]
        if _RENEWAL_CONTEXT.search(window) and "notice" not in renewal.group().lower():
            fields.append(_span_field("renewal_term", _period(renewal), renewal.start(),
                                      renewal.end()))
            break
    return fields


def contract_fields(text: str, title: BriefField | None,
                    settings: BriefSettings = DEFAULT_SETTINGS) -> list[BriefField]:
    """Every field the contract rules find in a text (its title found already), in order."""
    fields: list[BriefField] = []
    if title:
        fields.append(title)
    fields.extend(find_parties(text, settings))
    fields.extend(find_dates_of_agreement(text, settings))
    law = find_governing_law(text, settings)
    if law:
        fields.append(law)
    fields.extend(find_term(text))
    return fields
