"""The read planner answers exactly as the resolvers do: a differential test.

Read queries are generated from the schema as introspection describes it (random selections
of fields, nested objects, connections with page arguments and cursors, aliases, fragments
and ``__typename``), several root fields to a document, and each is sent by every caller of
the fixture world to two gateways on one database: one that compiles reads
(GATEWAY_COMPILED_READS, the default) and one that runs every operation through the
resolvers. Both must return the same ``data``, the same errors (path, code and message) and
record the same access-log content for the request.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support import Api, World, app_client
from tests.support.accounts import logged
from tests.support.reads import compiled_reads_count, log_content

CALLERS = [
    None,
    "admin",
    "office",
    "finance",
    "drsmith",
    "nurse",
    "frontdesk",
    "leaver",
    "chiroadmin",
    "canyonadmin",
    "agencyadmin",
    "biller",
    "auditor",
    "helpdesk",
    "secofficer",
]
DOCUMENTS = 64  # x 15 callers, 1 to 4 root fields each: thousands of (query, caller) pairs
# Roots, weighted; ``user`` is not compiled (the resolvers answer it: the fallback is compared).
ROOTS = (
    ("organization",) * 6
    + ("organizations",) * 4
    + (
        "me",
        "billingAgencies",
        "roles",
        "etools",
        "user",
    )
)
MEMBERSHIP_STATUSES = ("REQUESTED", "ACTIVE", "DENIED", "REMOVED")
INTROSPECTION = """
query Types { __schema { types { name kind fields {
  name args { name type { kind name ofType { kind name ofType { kind name } } } }
  type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }
} } } }
"""


@dataclass(frozen=True)
class Field:
    name: str
    type_name: str  # the named type
    leaf: bool
    arguments: tuple[str, ...]
    required: tuple[str, ...]


def _named(type_ref: dict[str, Any]) -> tuple[str, str]:
    while type_ref.get("ofType"):
        type_ref = type_ref["ofType"]
    return type_ref["name"], type_ref["kind"]


class Generator:
    """Random read documents over the schema's object types (a fixed seed: reproducible)."""

    def __init__(self, types: dict[str, list[Field]], world: World, seed: int) -> None:
        self.types = types
        self.random = random.Random(seed)
        self.world = world
        self.fragments: list[str] = []

    def document(self) -> str:
        self.fragments = []
        roots = []
        for index in range(self.random.randint(1, 4)):
            field = self._root_field()
            roots.append(f"r{index}: {self._field(field, 'Query', depth=0)}")
        body = "\n  ".join(roots)
        return f"query Generated {{\n  {body}\n}}\n" + "\n".join(self.fragments)

    def _root_field(self) -> Field:
        by_name = {f.name: f for f in self.types["Query"]}
        return by_name[self.random.choice(ROOTS)]

    def _field(self, field: Field, parent: str, depth: int) -> str:
        arguments = self._arguments(field, parent)
        text = field.name + (f"({arguments})" if arguments else "")
        if field.leaf:
            return text
        return f"{text} {{ {self._selection(field.type_name, depth + 1)} }}"

    def _selection(self, type_name: str, depth: int) -> str:
        fields = [f for f in self.types[type_name] if not f.required or f.name in ("node",)]
        leaves = [f for f in fields if f.leaf]
        nested = [f for f in fields if not f.leaf and depth < 5]
        chosen = self.random.sample(leaves, min(len(leaves), self.random.randint(1, 4)))
        if nested:
            chosen += self.random.sample(nested, min(len(nested), self.random.randint(0, 2)))
        if type_name.endswith("Connection") and not any(f.name == "edges" for f in chosen):
            chosen += [f for f in fields if f.name == "edges"]
        if type_name.endswith("Edge") and self.random.random() < 0.8:
            chosen += [f for f in fields if f.name == "node" and f not in chosen]
        if not chosen:
            chosen = fields[:1]
        parts = [self._field(f, type_name, depth) for f in chosen]
        if self.random.random() < 0.15:
            parts.append("__typename")
        if self.random.random() < 0.1:
            parts.append(f"again: {parts[0]}" if ":" not in parts[0] else parts[0])
        if self.random.random() < 0.1:
            name = f"F{len(self.fragments)}"
            self.fragments.append(f"fragment {name} on {type_name} {{ {' '.join(parts)} }}")
            return f"...{name}"
        if self.random.random() < 0.1:
            return f"... on {type_name} {{ {' '.join(parts)} }}"
        return " ".join(parts)

    def _arguments(self, field: Field, parent: str) -> str:
        pick = self.random
        given = []
        if "id" in field.arguments:
            ids = [*self.world.orgs.values(), *self.world.users.values(), 999, "abc"]
            given.append(f'id: "{pick.choice(ids)}"')
        if "first" in field.arguments and pick.random() < 0.7:
            given.append(f"first: {pick.choice([0, 1, 2, 3, 5, 20])}")
        if "after" in field.arguments and pick.random() < 0.3:
            from base64 import urlsafe_b64encode

            cursor = urlsafe_b64encode(f"k:{pick.randint(0, 8)}".encode()).decode()
            given.append(f'after: "{cursor}"')
        if "status" in field.arguments and pick.random() < 0.4:
            statuses = pick.sample(MEMBERSHIP_STATUSES, pick.randint(1, 3))
            given.append(f"status: [{', '.join(statuses)}]")
        return ", ".join(given)


def _types(introspected: dict[str, Any]) -> dict[str, list[Field]]:
    types: dict[str, list[Field]] = {}
    for graphql_type in introspected["__schema"]["types"]:
        if graphql_type["kind"] != "OBJECT" or graphql_type["name"].startswith("__"):
            continue
        fields = []
        for field in graphql_type["fields"] or ():
            type_name, kind = _named(field["type"])
            arguments = tuple(a["name"] for a in field["args"])
            required = tuple(a["name"] for a in field["args"] if a["type"]["kind"] == "NON_NULL")
            fields.append(
                Field(field["name"], type_name, kind not in ("OBJECT",), arguments, required)
            )
        types[graphql_type["name"]] = fields
    return types


@pytest.fixture(scope="session")
async def reference(settings: Any, world: World) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway on the same database that answers everything through the resolvers."""
    async with app_client(settings.model_copy(update={"compiled_reads": False})) as client:
        yield client


def _errors(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(e.get("path") or ()), e["extensions"]["code"], e["message"])
        for e in body.get("errors") or ()
    )


async def test_compiled_reads_answer_as_the_resolvers_do(
    api: Api, world: World, db: Any, reference: httpx.AsyncClient
) -> None:
    introspected = await api.query(INTROSPECTION, as_user="admin")
    generator = Generator(_types(introspected["data"]), world, seed=20261201)
    reference_api = Api(reference, api.settings)
    compiled_before = await compiled_reads_count(api)
    pairs = 0
    for _ in range(DOCUMENTS):
        document = generator.document()
        for caller in CALLERS:
            compiled = await api.post(document, as_user=caller)
            resolved = await reference_api.post(document, as_user=caller)
            label = f"{caller}: {document}"
            assert compiled.status_code == resolved.status_code, label
            body, expected = compiled.json(), resolved.json()
            assert body.get("data") == expected.get("data"), label
            assert _errors(body) == _errors(expected), label
            assert Counter(log_content(await logged(db, compiled))) == Counter(
                log_content(await logged(db, resolved))
            ), label
            pairs += document.count("\n  r")
    assert pairs >= 2000, pairs
    compiled_count = await compiled_reads_count(api) - compiled_before
    # The comparison means something only if many generated operations were compiled (the
    # others hold a field the planner leaves to the resolvers, and compare the fallback).
    assert compiled_count >= DOCUMENTS * len(CALLERS) // 3, compiled_count
