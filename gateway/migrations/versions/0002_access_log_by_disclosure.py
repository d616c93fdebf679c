"""The access log by disclosure: an entry holds the objects it covered, not one object.

Each entry's ``object_id`` and ``organization_id`` become ``objects``, a JSON list of
``[id, organization id]`` pairs (JSONB with a GIN index on PostgreSQL); every existing entry
becomes an entry with its one object. Their hashes are not recomputed (the key is not the
migration's, and anchors recorded outside would no longer match): ``access_log_head`` records
the last entry written one per object, and verification hashes those as they were written.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OBJECTS_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# SQL that builds an entry's one object from the columns it replaces, and back.
ONE_OBJECT = {
    "postgresql": "jsonb_build_array(jsonb_build_array(object_id, organization_id))",
    "sqlite": "json_array(json_array(object_id, organization_id))",
}
OBJECT_ID = {
    "postgresql": "objects -> 0 ->> 0",
    "sqlite": "json_extract(objects, '$[0][0]')",
}
ORGANIZATION_ID = {
    "postgresql": "CAST(objects -> 0 ->> 1 AS INTEGER)",
    "sqlite": "json_extract(objects, '$[0][1]')",
}


def _dialect() -> str:
    return op.get_bind().dialect.name


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("access_log_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("per_object_until", sa.BigInteger(), nullable=True))
    op.execute("UPDATE access_log_head SET per_object_until = seq")
    with op.batch_alter_table("access_log_head", schema=None) as batch_op:
        batch_op.alter_column("per_object_until", existing_type=sa.BigInteger(), nullable=False)

    _lift_append_only()
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("objects", OBJECTS_TYPE, nullable=True))
    op.execute(f"UPDATE access_log SET objects = {ONE_OBJECT[_dialect()]}")  # noqa: S608
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_index("ix_access_log_org")
        batch_op.drop_index("ix_access_log_object")
        batch_op.alter_column("objects", existing_type=OBJECTS_TYPE, nullable=False)
        batch_op.drop_column("organization_id")
        batch_op.drop_column("object_id")
        batch_op.create_index("ix_access_log_kind", ["object_type", "field", "seq"], unique=False)
    if _dialect() == "postgresql":
        op.create_index(
            "ix_access_log_objects",
            "access_log",
            ["objects"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"objects": "jsonb_path_ops"},
        )
    _restore_append_only()


def downgrade() -> None:
    """Downgrade schema: only while every entry still holds one object as it was written (no
    entry appended since the upgrade), since the chain covers what each entry held."""
    written = (
        op.get_bind()
        .execute(sa.text("SELECT seq - per_object_until FROM access_log_head"))
        .scalar()
    )
    if written:
        raise RuntimeError(
            f"{written} access-log entries were written by disclosure since 0002: they cannot "
            "be split into one per object without breaking the hash chain"
        )
    if _dialect() == "postgresql":
        op.drop_index("ix_access_log_objects", table_name="access_log")
    _lift_append_only()
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("object_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("organization_id", sa.Integer(), nullable=True))
    op.execute(
        f"UPDATE access_log SET object_id = {OBJECT_ID[_dialect()]}, "  # noqa: S608
        f"organization_id = {ORGANIZATION_ID[_dialect()]}"
    )
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_index("ix_access_log_kind")
        batch_op.drop_column("objects")
        batch_op.create_index(
            "ix_access_log_object", ["object_type", "object_id", "field", "seq"], unique=False
        )
        batch_op.create_index("ix_access_log_org", ["organization_id", "seq"], unique=False)
    _restore_append_only()
    with op.batch_alter_table("access_log_head", schema=None) as batch_op:
        batch_op.drop_column("per_object_until")


# A6: the database refuses to change or delete access-log rows (0001); converting them is the
# one change, made with the guard lifted inside this migration's transaction.


def _lift_append_only() -> None:
    if _dialect() == "postgresql":
        op.execute("ALTER TABLE access_log DISABLE TRIGGER access_log_append_only")
        return
    # SQLite: a table rebuilt by batch mode loses its triggers anyway; they are made again.
    for event in ("update", "delete"):
        op.execute(f"DROP TRIGGER access_log_no_{event}")


def _restore_append_only() -> None:
    if _dialect() == "postgresql":
        op.execute("ALTER TABLE access_log ENABLE TRIGGER access_log_append_only")
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER access_log_no_{event.lower()} BEFORE {event} ON access_log "
            "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END"
        )
