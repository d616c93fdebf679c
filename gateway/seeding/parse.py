"""Reading a seed file: YAML (with line numbers for syntax errors) into a :class:`SeedDocument`."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from gateway.seeding.document import SeedDocument
from gateway.seeding.errors import Problem, SeedError, key_path

TOP_LEVEL_KEYS = "organizations, users, memberships, agencyGrants, payerRoles"
MERGE_TAG = "tag:yaml.org,2002:merge"


class StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == MERGE_TAG:
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found the key '{key_node.value}' twice",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_seed_file(path: Path) -> SeedDocument:
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SeedError(f"{path}: cannot read the seed file: {error}") from error
    return parse_seed_text(content, str(path))


def parse_seed_text(content: str, source: str = "<seed>") -> SeedDocument:
    """Parse and type-check a seed document; raises :class:`SeedError` naming lines or keys."""
    data = _load_yaml(content, source)
    if data is None:
        raise SeedError(f"{source}: the seed file is empty")
    if not isinstance(data, dict):
        raise SeedError(f"{source}: the top level must be a mapping with keys {TOP_LEVEL_KEYS}")
    try:
        return SeedDocument.model_validate(data, by_name=False)
    except ValidationError as error:
        raise SeedError.from_problems([_problem(detail) for detail in error.errors()]) from error


def _load_yaml(content: str, source: str) -> object:
    try:
        return yaml.load(content, Loader=StrictLoader)  # noqa: S506 - a subclass of SafeLoader
    except yaml.MarkedYAMLError as error:
        raise SeedError(_describe_yaml_error(error, source)) from error
    except yaml.YAMLError as error:
        raise SeedError(f"{source}: invalid YAML: {error}") from error


def _describe_yaml_error(error: yaml.MarkedYAMLError, source: str) -> str:
    mark = error.problem_mark or error.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
    detail = "; ".join(part for part in (error.context, error.problem) if part)
    return f"{source}: YAML syntax error at {where}: {detail or 'invalid YAML'}"


def _problem(detail: ErrorDetails) -> Problem:
    return Problem(key_path(*detail["loc"]), _message(detail))


def _message(detail: ErrorDetails) -> str:
    kind, value = detail["type"], detail.get("input")
    if kind == "value_error":
        return str(detail.get("ctx", {}).get("error", detail["msg"]))
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "string_type":
        return _expected_string(value)
    if kind == "list_type":
        return f"expected a list, got {_yaml_type(value)}"
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return f"expected a mapping, got {_yaml_type(value)}"
    return detail["msg"]


def _expected_string(value: object) -> str:
    if isinstance(value, bool):
        return "expected a string, got true/false (YAML reads yes/no/on/off as booleans: quote it)"
    if isinstance(value, int | float):
        return 'expected a string, got a number (quote NPIs, TINs and ZIP codes, e.g. "85001")'
    return f"expected a string, got {_yaml_type(value)}"


def _yaml_type(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string '{value}'"
    return f"'{value}'"
