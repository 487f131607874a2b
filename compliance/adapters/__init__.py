"""Library layer: the outside parts behind small interfaces: the local GGUF model and its
registry, the Anthropic client, the ledger and price table, the offline spaCy model."""
