"""Cross-cutting concerns exist once, each in its package; the rules below keep them there.

- Only ``gateway/authz/`` decides who may do what (Casbin, verdicts, scopes, role checks).
- Only ``gateway/audit/`` writes the access log (its tables, the trail's rows, the writer).
- A module outside a concern package imports only the package's public API (its
  ``__init__``), never a submodule or a ``_private`` name.

Each rule is also run against a snippet that breaks it, so a rule that can no longer fail
is noticed.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gateway"
CONCERNS = ("authz", "audit", "auth", "http", "data")

# Names only the authorization package may use: the policy engine and its verdicts, and the
# object scope the enforcement point derives from each type's declaration.
DECIDING_NAMES = frozenset(
    {"casbin", "Decision", "Verdict", "DEFAULT_DENY", "NodeScope", "ROOT_SCOPE", "SCOPE_ATTRIBUTE"}
)
DECIDING_METHODS = frozenset({"enforce", "enforce_ex", "decide", "reaches_all", "roles_allowed"})
# Business rules about which roles go together (R4, R5, R11) and what a change may be (R6)
# may look at roles; nothing else may.
ROLE_RULES = ("domain/", "seeding/")
# Names only the audit package may use: the log's tables and the trail's and writer's insides.
RECORDING_NAMES = frozenset({"AccessLogEntry", "AccessLogRequest", "AccessLogHead"})
RECORDING_ATTRIBUTES = frozenset(
    {"_rows", "_index", "_flushed", "mark_written", "chained", "request_row", "_append_in"}
)
# Where the log's tables are declared, and its migrations.
TABLE_HOMES = ("models/", "migrations/")


@dataclass(frozen=True)
class Module:
    path: str  # relative to gateway/, e.g. "resolvers/users.py"
    tree: ast.Module

    def within(self, package: str) -> bool:
        return self.path.startswith(f"{package}/")


def modules() -> Iterator[Module]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield Module(path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text()))


def imported(module: Module) -> Iterator[tuple[str, str | None]]:
    """(module, name) for each import; name is None for ``import x``."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield from ((node.module, alias.name) for alias in node.names)


def names(module: Module) -> Iterator[str]:
    """Every name and attribute the module mentions or imports."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.Attribute):
            yield node.attr
    for source, name in imported(module):
        yield source.split(".")[0] if name is None else name


def called(module: Module) -> Iterator[str]:
    """Names of the functions called (``f()``, ``Forbidden()``)."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            yield node.func.id


def methods_called(module: Module) -> Iterator[str]:
    """Names of the methods called (``policy.decide()``)."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            yield node.func.attr


def role_checks(module: Module) -> Iterator[str]:
    """``RoleCode.X in roles``: a permission decided from a role, outside the policy."""
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Compare):
            continue
        left = node.left
        if (
            any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
            and isinstance(left, ast.Attribute)
            and isinstance(left.value, ast.Name)
            and left.value.id == "RoleCode"
        ):
            yield f"RoleCode.{left.attr}"


# ---- the rules ------------------------------------------------------------------------------


def deciding_outside_authz(module: Module) -> list[str]:
    if module.within("authz"):
        return []
    found = [f"uses {n}" for n in names(module) if n in DECIDING_NAMES]
    found += [f"calls .{m}()" for m in methods_called(module) if m in DECIDING_METHODS]
    if not module.path.startswith(ROLE_RULES):
        found += [f"checks {check} in a role set" for check in role_checks(module)]
    if not module.within("domain"):  # the domain refuses by rule (R6, R13, ...)
        found += [f"refuses with {c}()" for c in called(module) if c == "Forbidden"]
    return found


def recording_outside_audit(module: Module) -> list[str]:
    if module.within("audit"):
        return []
    found = [f"touches the trail's {n}" for n in names(module) if n in RECORDING_ATTRIBUTES]
    if not module.path.startswith(TABLE_HOMES):
        found += [f"uses the log table {n}" for n in names(module) if n in RECORDING_NAMES]
    return found


def private_imports(module: Module) -> list[str]:
    found = []
    for source, name in imported(module):
        parts = source.split(".")
        if parts[0] != "gateway" or len(parts) < 2:
            continue
        package = parts[1]
        if package in CONCERNS and not module.within(package) and len(parts) > 2:
            found.append(f"imports {source} (use gateway.{package})")
        if name is not None and name.startswith("_") and not module.within(package):
            found.append(f"imports the private {source}.{name}")
    return found


RULES: dict[str, Callable[[Module], list[str]]] = {
    "only gateway/authz decides": deciding_outside_authz,
    "only gateway/audit writes the access log": recording_outside_audit,
    "concern packages are used through their public API": private_imports,
}


@pytest.mark.parametrize("rule", list(RULES))
def test_the_gateway_keeps_the_rule(rule: str) -> None:
    broken = {m.path: found for m in modules() if (found := RULES[rule](m))}
    assert broken == {}


# ---- each rule fails on the code it is there to stop -----------------------------------------

BREAKING = [
    # (rule, where, code)
    ("only gateway/authz decides", "resolvers/x.py", "import casbin"),
    (
        "only gateway/authz decides",
        "resolvers/x.py",
        "def f(c): return c.policy.decide(roles, 'Query', 'me').decision is Decision.ALLOW",
    ),
    (
        "only gateway/authz decides",
        "schema/x.py",
        "def f(r, caller): return User.from_row(r, NodeScope((r.organization_id,), False))",
    ),
    ("only gateway/authz decides", "schema/x.py", "from gateway.authz.scope import ROOT_SCOPE"),
    (
        "only gateway/authz decides",
        "resolvers/x.py",
        "def f(roles):\n    if RoleCode.PAYER_SUPPORT not in roles:\n        raise Forbidden('no')",
    ),
    (
        "only gateway/audit writes the access log",
        "resolvers/x.py",
        "def f(context, e): context.audit._rows.append((e, None))",
    ),
    (
        "only gateway/audit writes the access log",
        "http/x.py",
        "async def f(s): s.add(AccessLogEntry(seq=1))",
    ),
    (
        "only gateway/audit writes the access log",
        "context.py",
        "async def f(self, s): await self.audit_writer._append_in(s, self.audit)",
    ),
    (
        "only gateway/audit writes the access log",
        "resolvers/x.py",
        "def f(context): context.audit.mark_written()",
    ),
    (
        "concern packages are used through their public API",
        "resolvers/x.py",
        "from gateway.audit.trail import AuditTrail",
    ),
    (
        "concern packages are used through their public API",
        "cli.py",
        "from gateway.auth import _caller",
    ),
]


@pytest.mark.parametrize(("rule", "where", "code"), BREAKING)
def test_each_rule_fails_on_what_it_forbids(rule: str, where: str, code: str) -> None:
    assert RULES[rule](Module(where, ast.parse(code)))


def test_a_rule_allows_its_own_package() -> None:
    inside = Module("audit/chain.py", ast.parse("def f(t): t.mark_written(); t._rows.clear()"))
    assert recording_outside_audit(inside) == []


def test_tests_share_helpers_only_through_tests_support() -> None:
    """A test module imports no other test module: what two tests share lives in support."""
    tests = PACKAGE.parent / "tests"
    borrowed = {
        path.relative_to(tests).as_posix(): source
        for path in tests.rglob("test_*.py")
        for source, _ in imported(Module(path.name, ast.parse(path.read_text())))
        if source.startswith("tests.") and not source.startswith("tests.support")
    }
    assert borrowed == {}
