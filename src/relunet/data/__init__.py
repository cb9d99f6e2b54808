"""Data: the bundled and real datasets, the IDX reader, scalers (uses nothing but errors)."""
