"""The one error the seeders raise: every problem found, each named by its key path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAX_REPORTED = 20


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a seed document, at a key path such as ``memberships[2].roles[0]``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SeedError(Exception):
    """A seed document that cannot be loaded; nothing was written."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)

    @classmethod
    def from_problems(cls, problems: Sequence[Problem]) -> SeedError:
        lines = [str(problem) for problem in problems[:MAX_REPORTED]]
        if len(problems) > MAX_REPORTED:
            lines.append(f"... and {len(problems) - MAX_REPORTED} more problem(s)")
        return cls("\n".join(lines), problems)


def key_path(*parts: str | int) -> str:
    """``("memberships", 2, "roles", 0)`` -> ``memberships[2].roles[0]``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text
