"""``gateway policy check``: the policy and the schema must describe the same fields, and
every type of the schema must declare its object scope."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from gateway.authz import masking
from gateway.authz.policy import (
    ALL_ROLES,
    LOGIN,
    REACH_ALL,
    REACH_FIELDS,
    READ,
    READ_MASKED,
    WRITE,
    PolicyTable,
    field_actions,
    load_enforcer,
)
from gateway.authz.scope import declared_rule
from gateway.settings import Settings

ACTIONS = frozenset({READ, READ_MASKED, WRITE, LOGIN, REACH_ALL})
EFFECTS = frozenset({"allow", "deny"})
ROOTS = frozenset({"Query", "Mutation"})  # decided by their arguments (``organizationId``)


def check_policy(
    settings: Settings,
    schema_fields: Iterable[tuple[str, str, bool]],
    object_types: Mapping[str, type],
) -> list[str]:
    """Every problem found; an empty list means the policy covers the schema exactly.

    ``schema_fields``: (type, field, non-null?) of every object type; ``object_types``: the
    Python class behind each object type's name."""
    enforcer = load_enforcer(settings.policy_model, settings.policy_file)
    fields = {(t, f): non_null for t, f, non_null in schema_fields}
    lines = enforcer.get_policy()
    groups = {group for _, group in enforcer.get_named_grouping_policy("g2")}
    problems = _line_problems(lines, fields, groups)
    named = {line[1] for line in lines}
    problems += [
        f"{t}.{f}: no policy line names this field (default deny hides it from everyone)"
        for t, f in fields
        if f"{t}.{f}" not in named
    ]
    table = PolicyTable(enforcer, field_actions((t, f, n) for (t, f), n in fields.items()))
    problems += _mask_problems(table, fields)
    problems += _non_null_problems(table, fields)
    problems += _scope_problems(object_types)
    return problems


def _scope_problems(object_types: Mapping[str, type]) -> list[str]:
    """A type that does not say how its objects find their organizations would be refused
    everything at run time (fail closed): the build fails first."""
    return [
        f"{name}: declares no object scope (gateway.authz.scoped)"
        for name, cls in sorted(object_types.items())
        if name not in ROOTS and declared_rule(cls) is None
    ]


def _line_problems(
    lines: list[list[str]], fields: dict[tuple[str, str], bool], groups: set[str]
) -> list[str]:
    problems = []
    for line in lines:
        if len(line) != 4:
            problems.append(f"policy line {line}: expected subject, Type.field, action, effect")
            continue
        subject, obj, action, effect = line
        type_name, _, field = obj.partition(".")
        if (type_name, field) not in fields:
            problems.append(f"policy line {', '.join(line)}: {obj} is not a field of the schema")
        if subject not in ALL_ROLES and subject not in groups:
            problems.append(f"policy line {', '.join(line)}: unknown role or group {subject}")
        if action not in ACTIONS or effect not in EFFECTS:
            problems.append(f"policy line {', '.join(line)}: bad action or effect")
        elif action == REACH_ALL and (type_name, field) not in REACH_FIELDS:
            problems.append(f"policy line {', '.join(line)}: {obj} has no row scope to reach")
    return problems


def _mask_problems(table: PolicyTable, fields: dict[tuple[str, str], bool]) -> list[str]:
    problems = []
    for type_name, field in fields:
        for role in ALL_ROLES:
            verdict = table.decide(frozenset({role}), type_name, field)
            if verdict.action == READ_MASKED and (type_name, field) not in masking.MASKS:
                problems.append(f"{type_name}.{field}: masked for {role} but has no masker")
    return problems


def _non_null_problems(table: PolicyTable, fields: dict[tuple[str, str], bool]) -> list[str]:
    """A field some reader of its type may not see must be nullable (V2: null plus an error)."""
    readers: dict[str, set[str]] = defaultdict(set)
    for type_name, field in fields:
        readers[type_name] |= table.roles_allowed(type_name, field)
    return [
        f"{t}.{f}: non-null but denied to {', '.join(sorted(readers[t] - allowed))}"
        for (t, f), non_null in fields.items()
        if non_null and (allowed := table.roles_allowed(t, f)) < readers[t]
    ]
