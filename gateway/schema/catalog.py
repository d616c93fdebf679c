"""Role and eTool catalog types (V6: readable by any signed-in user)."""

from __future__ import annotations

import strawberry

from gateway import catalog
from gateway.catalog import EToolCode, OrganizationKind, RoleCode, RoleScope
from gateway.schema.scoping import Unscoped

RoleCodeEnum = strawberry.enum(RoleCode, name="RoleCode")
EToolCodeEnum = strawberry.enum(EToolCode, name="EToolCode")
RoleScopeEnum = strawberry.enum(RoleScope, name="RoleScope")
OrganizationKindEnum = strawberry.enum(OrganizationKind, name="OrganizationKind")


@strawberry.type
class Role(Unscoped):
    id: strawberry.Private[str]  # the code: what the access log names as the object read
    code: RoleCode
    name: str
    description: str
    scope: RoleScope
    employee_only: bool = strawberry.field(description="R4: held only by employees")


@strawberry.type(name="ETool")
class ETool(Unscoped):
    id: strawberry.Private[str]  # the code: what the access log names as the object read
    code: EToolCode
    name: str
    description: str
    organization_kinds: list[OrganizationKind] | None = strawberry.field(
        description="R9: organization kinds it may be granted in; null means every kind"
    )


ROLES = {
    info.code.value: Role(
        id=info.code.value,
        code=info.code,
        name=info.name,
        description=info.description,
        scope=info.scope,
        employee_only=info.employee_only,
    )
    for info in catalog.ROLES
}
ETOOLS = {
    info.code.value: ETool(
        id=info.code.value,
        code=info.code,
        name=info.name,
        description=info.description,
        organization_kinds=sorted(info.organization_kinds) if info.organization_kinds else None,
    )
    for info in catalog.ETOOLS
}
