"""Data access: the engine and sessions, per-request loaders, pagination and ids."""
