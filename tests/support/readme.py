"""The README's examples, read from the file: its sections, its walkthroughs' steps and the
command lines of its shell blocks."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
WALKTHROUGH = re.compile(r"<!-- as: (\w+) -->\s*```graphql\n(.*?)```", re.DOTALL)
SHELL_BLOCK = re.compile(r"```sh\n(.*?)```", re.DOTALL)
GRAPHQL_BLOCK = re.compile(r"```graphql\n(.*?)```", re.DOTALL)
DATE = re.compile(r"\bdate(?: (?:'[^']*'|[^\s'+][^\s)\"]*))* \+[^\s)\"]+")  # date ... +FORMAT
SUBSTITUTION = re.compile(r"\$\((date [^)]*)\)")


def section(title: str) -> str:
    """The text of the README section ``## title`` (up to the next ``##``)."""
    text = README.read_text().split(f"\n## {title}\n", 1)[1]
    return text.split("\n## ", 1)[0]


def walkthrough_steps(title: str = "Administering an organization") -> list[tuple[str, str]]:
    """(who, GraphQL) of each step of the README section ``title``, in order."""
    return [(who, query) for who, query in WALKTHROUGH.findall(section(title))]


def graphql_operation(name: str) -> str:
    """The README's GraphQL block that defines the operation ``name``."""
    blocks = GRAPHQL_BLOCK.findall(README.read_text())
    block: str
    (block,) = [b for b in blocks if re.match(rf"(query|mutation) {name}\b", b)]
    return block


def shell_lines(text: str | None = None) -> list[str]:
    """Every command line of the shell blocks (continuations joined, comments dropped)."""
    lines: list[str] = []
    for block in SHELL_BLOCK.findall(README.read_text() if text is None else text):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                lines.append(line.strip())
    return lines


def date_commands(text: str | None = None) -> list[str]:
    """Every ``date`` command the shell blocks show, alone or inside ``$(...)``, in order."""
    return [m.group(0) for line in shell_lines(text) for m in DATE.finditer(line)]


def run_date(command: str) -> str:
    """What a README ``date`` command prints (GNU date, as the README says)."""
    done = subprocess.run(  # noqa: S603 - the README's own date commands
        shlex.split(command), capture_output=True, text=True, check=True, timeout=10
    )
    return done.stdout.strip()


def with_dates(line: str) -> str:
    """``line`` with each ``$(date ...)`` replaced by what it prints, as the shell would."""
    return SUBSTITUTION.sub(lambda m: run_date(m.group(1)), line)


def gateway_arguments(line: str) -> list[str] | None:
    """The arguments a shown line passes to ``.venv/bin/gateway`` (``scripts/demo ARGS`` runs
    ``gateway serve --demo ARGS``); None for another command."""
    spaced = with_dates(line).replace("$(", "$( ").replace(")", " )")
    words = shlex.split(spaced, comments=True)
    for start, word in enumerate(words):
        if word in (".venv/bin/gateway", "scripts/demo"):
            rest = words[start + 1 :]
            end = next((i for i, w in enumerate(rest) if w in (")", ">", "|", "&&")), len(rest))
            prefix = ["serve", "--demo"] if word == "scripts/demo" else []
            return prefix + rest[:end]
    return None
