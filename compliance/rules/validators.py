"""Validators a rule pack may name (`validators: [luhn]`): checks a regex hit must pass.

Each takes the matched text and says whether it is a plausible value of its kind, so that a
pattern may stay loose (any 16 digits) while findings stay precise (a valid card number).
"""

from __future__ import annotations

import re
from collections.abc import Callable


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


# The names a pack's `validators` list may use.
VALIDATORS: dict[str, Callable[[str], bool]] = {
    "phone_digits": phone_digits_valid,
    "luhn": luhn_valid,
    "iban": iban_valid,
    "us_ssn": us_ssn_valid,
}
