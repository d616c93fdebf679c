"""The README's seed-file example loads as written."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from gateway.migrate import upgrade
from gateway.seeding import seed_file
from gateway.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_seed_example_loads(tmp_path: Path) -> None:
    section = README.read_text().split("## Seed files", 1)[1]
    match = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert match is not None
    path = tmp_path / "example.yaml"
    path.write_text(match.group(1))
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/readme.db")
    upgrade(settings)
    summary = asyncio.run(seed_file(settings, path))
    assert "2 organizations" in summary and "1 payer role" in summary
