"""``gateway seed --file PATH``: a YAML seed file, loaded all or nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.seeding.checks import check_document
from gateway.seeding.loader import load_into
from gateway.seeding.parse import read_seed_file
from gateway.seeding.passwords import hash_each
from gateway.settings import Settings


async def seed_file(settings: Settings, path: Path) -> str:
    """Load the seed file at ``path`` in one transaction and return a one-line summary.

    Raises :class:`~gateway.seeding.errors.SeedError` (naming the YAML line or key path) and
    writes nothing if anything is wrong.
    """
    document = read_seed_file(path)
    check_document(document)  # before the slow part: report mistakes without hashing first
    password_hashes = await asyncio.to_thread(hash_each, document)
    counts = await load_into(settings, document, password_hashes)
    assert counts is not None
    return counts.summary()
