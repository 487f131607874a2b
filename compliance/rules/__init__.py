"""Library layer: rule packs (loading, matching, validators), redaction and log masking."""
