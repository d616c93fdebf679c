"""The README's examples, read from the file: its sections and its walkthroughs' steps."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
WALKTHROUGH = re.compile(r"<!-- as: (\w+) -->\s*```graphql\n(.*?)```", re.DOTALL)


def walkthrough_steps(title: str = "Administering an organization") -> list[tuple[str, str]]:
    """(who, GraphQL) of each step of the README section ``title``, in order."""
    section = README.read_text().split(f"## {title}", 1)[1]
    section = section.split("\n## ", 1)[0]
    return [(who, query) for who, query in WALKTHROUGH.findall(section)]
