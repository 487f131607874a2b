"""Text normalization and hashing: what counts as the same text."""

from __future__ import annotations

import pytest

from compliance.textnorm import normalize_text, normalized_text_hash, words


@pytest.mark.parametrize(
    "variant",
    [
        "The  Supplier shall\n\ndeliver   the goods.",
        "the supplier shall deliver the goods",
        "THE SUPPLIER SHALL DELIVER THE GOODS!",
        "# The Supplier\n\n**shall** deliver -- the *goods*.",
        "\tThe supplier, shall; deliver: the goods...\r\n",
        "The \uff33upplier shall deliver the goods",  # full-width S: NFKC folds it
    ],
)
def test_normalized_text_hash_ignores_whitespace_case_and_markup(variant):
    reference = normalized_text_hash("The supplier shall deliver the goods.")
    assert normalized_text_hash(variant) == reference


def test_normalized_text_hash_sees_different_words():
    assert normalized_text_hash("The supplier shall deliver") != normalized_text_hash(
        "The supplier shall not deliver")
    assert normalized_text_hash("deliver goods") != normalized_text_hash("goods deliver")


def test_normalize_text_and_words():
    assert normalize_text("  Hello\u00a0 WORLD \n") == "hello world"
    assert words("Hello, world! It's 2025.") == ["hello", "world", "it", "s", "2025"]
