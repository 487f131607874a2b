"""What the local model is asked to summarize: system prompts, their versions, the JSON schema.

A prompt's version is part of every summary's cache key: change a prompt's text and bump its
version, or stored summaries of the old prompt would be served for the new one.
"""

from __future__ import annotations

CHUNK_PROMPT_VERSION = "chunk-summary-v1"
DOCUMENT_PROMPT_VERSION = "document-summary-v1"

# The system prompt is the unchanging prefix of every call: byte-identical and first, so
# llama.cpp reuses its KV cache across calls instead of re-reading it.
CHUNK_SYSTEM_PROMPT = (
    "You write short summaries of business documents for a compliance officer. Read the excerpt "
    'and reply with JSON: "summary" is one or two sentences in your own words saying what the '
    'excerpt is about; "key_points" lists up to three short facts from it; "risk_signals" lists '
    "statements that may need compliance review (claims about safety or efficacy, personal data, "
    "financial promises, contract obligations), or is empty."
)
DOCUMENT_SYSTEM_PROMPT = (
    "You combine summaries of the parts of one document into a summary of the whole document for "
    'a compliance officer. Reply with JSON: "summary" is two or three sentences; "key_points" '
    'lists up to three facts; "risk_signals" lists up to three issues needing review, or is empty.'
)
# Every generated field is bounded: a tiny model at temperature 0 loops without limits.
SUMMARY_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "minLength": 20, "maxLength": 320},
        "key_points": {"type": "array", "maxItems": 3,
                       "items": {"type": "string", "maxLength": 120}},
        "risk_signals": {"type": "array", "maxItems": 3,
                         "items": {"type": "string", "maxLength": 120}},
    },
    "required": ["summary", "key_points", "risk_signals"],
}
# Below this many characters a model call costs more than it adds: the text is summarized
# extractively instead.
MIN_CHARS_FOR_MODEL = 280
