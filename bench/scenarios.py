"""The two measured GraphQL requests and a check that their answers look right."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from world import DASHBOARD_ORG_ID

ORG_DASHBOARD = """
query OrgDashboard($id: ID!) {
  organization(id: $id) {
    id name kind status
    taxIds { tin }
    members(first: 50) {
      totalCount
      edges { node {
        id status employment
        roles { code name }
        etools { code }
        providers { id npi name }
        user { id username name email }
      } }
      pageInfo { hasNextPage endCursor }
    }
    agencyGrants { id status agency { id name } }
  }
}
"""

ORG_LIST = """
query OrgList {
  organizations(first: 20) {
    edges { node {
      id name
      members(first: 20) { edges { node { id roles { code } user { id name } } } }
    } }
  }
}
"""

ShapeCheck = Callable[[dict[str, Any]], list[str]]


@dataclass(frozen=True, slots=True)
class Identities:
    """Who the benchmark signs in as: read back from the database, so --skip-build works."""

    dashboard_admin: str
    auditor: str
    dashboard_org_id: int = DASHBOARD_ORG_ID


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    username: str
    payload: dict[str, Any]
    check_shape: ShapeCheck


def _dashboard_shape(data: dict[str, Any]) -> list[str]:
    org = data.get("organization")
    if not org:
        return ["organization is null"]
    members = org.get("members") or {}
    problems = []
    if len(members.get("edges") or []) != 50:
        problems.append(f"expected 50 member edges, got {len(members.get('edges') or [])}")
    if (members.get("totalCount") or 0) < 60:
        problems.append(f"expected totalCount >= 60, got {members.get('totalCount')}")
    if not (members.get("pageInfo") or {}).get("hasNextPage"):
        problems.append("expected pageInfo.hasNextPage")
    if not org.get("agencyGrants"):
        problems.append("expected agency grants")
    return problems


def _list_shape(data: dict[str, Any]) -> list[str]:
    edges = (data.get("organizations") or {}).get("edges") or []
    problems = [] if len(edges) == 20 else [f"expected 20 organizations, got {len(edges)}"]
    empty = sum(1 for e in edges if not ((e.get("node") or {}).get("members") or {}).get("edges"))
    if empty:
        problems.append(f"{empty} organizations show no members")
    return problems


def scenarios(who: Identities) -> list[Scenario]:
    return [
        Scenario(
            name="org dashboard",
            username=who.dashboard_admin,
            payload={
                "query": ORG_DASHBOARD,
                "operationName": "OrgDashboard",
                "variables": {"id": str(who.dashboard_org_id)},
            },
            check_shape=_dashboard_shape,
        ),
        Scenario(
            name="org list",
            username=who.auditor,
            payload={"query": ORG_LIST, "operationName": "OrgList"},
            check_shape=_list_shape,
        ),
    ]
