"""Cross-cutting concerns exist once: only the authorization module talks to Casbin."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gateway"
CASBIN_USERS = {"authz/policy.py"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_the_authorization_module_imports_casbin() -> None:
    users = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if any(m == "casbin" or m.startswith("casbin.") for m in imported_modules(path))
    }
    assert users == CASBIN_USERS


def test_resolvers_and_schema_never_write_the_access_log() -> None:
    for folder in ("resolvers", "schema"):
        for path in (PACKAGE / folder).rglob("*.py"):
            modules = imported_modules(path)
            assert "gateway.audit.chain" not in modules, path
            assert "gateway.authz.policy" not in modules, path
