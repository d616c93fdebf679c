"""The lock files (``scripts/lock``) pin, with hashes, every requirement that pyproject.toml
declares, within its bounds: a dependency added without running ``scripts/lock`` fails here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent.parent
PINNED = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)")


def declared(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [*project["dependencies"]]
    for extra in extras:
        lines.extend(project["optional-dependencies"][extra])
    return [Requirement(line) for line in lines]


def pinned(lock: str) -> dict[str, tuple[Version, int]]:
    """Each locked package: its version and how many hashes it carries."""
    packages: dict[str, tuple[Version, int]] = {}
    name = ""
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        if match := PINNED.match(line):
            name = canonicalize_name(match[1])
            packages[name] = (Version(match[2]), 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            version, hashes = packages[name]
            packages[name] = (version, hashes + 1)
    return packages


@pytest.mark.parametrize(("lock", "extras"), [("demo.lock", ()), ("test.lock", ("test", "otel"))])
def test_the_lock_pins_every_declared_requirement_within_its_bounds_with_hashes(
    lock: str, extras: tuple[str, ...]
) -> None:
    packages = pinned(lock)
    for requirement in declared(*extras):
        name = canonicalize_name(requirement.name)
        assert name in packages, f"{name} is not in requirements/{lock}: run scripts/lock"
        version, hashes = packages[name]
        assert requirement.specifier.contains(version, prereleases=True), (lock, requirement)
        assert hashes > 0, (lock, name)


def test_every_locked_package_carries_a_hash() -> None:
    for lock in ("demo.lock", "test.lock"):
        assert all(hashes for _, hashes in pinned(lock).values()), lock
