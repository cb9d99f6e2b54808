"""Safe files: the atomic archive format and the model file built on it (uses core)."""
