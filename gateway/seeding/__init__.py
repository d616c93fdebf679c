"""Seeding the database: YAML seed files (SPEC section 4) and the demo world.

Both build a :class:`SeedDocument` and load it with :func:`load_document`, all or nothing.
"""

from gateway.seeding.checks import check_document
from gateway.seeding.demo import DEMO_PASSWORD, demo_document, seed_demo, seed_demo_if_empty
from gateway.seeding.document import SeedDocument
from gateway.seeding.errors import Problem, SeedError
from gateway.seeding.loader import SeedCounts, load_document
from gateway.seeding.parse import parse_seed_text, read_seed_file
from gateway.seeding.seed_file import seed_file

__all__ = [
    "DEMO_PASSWORD",
    "Problem",
    "SeedCounts",
    "SeedDocument",
    "SeedError",
    "check_document",
    "demo_document",
    "load_document",
    "parse_seed_text",
    "read_seed_file",
    "seed_demo",
    "seed_demo_if_empty",
    "seed_file",
]
