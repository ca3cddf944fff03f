"""The processing manifest: schema models, typed stage envelopes, building, validation and
additive compatibility."""
