"""row level security

Tenant isolation in depth: every tenant table (and `organizations`) gets row-level security
with one policy keeping a transaction inside the organization named by the
`okr.organization_id` setting. Requests switch to the NOLOGIN role `okr_tenant` after
authentication (`okr_service.kit.db.enter_tenant`); a forgotten `organization_id` filter then
still cannot reach another tenant's row. FORCE applies the policies to the tables' owner
too; the owner (the migrating user, which the service connects as) keeps a policy of its
own for the paths that legitimately cross tenants (API key lookup, create-org, the webhook
worker, migrations). Superusers bypass row-level security anyway: the role switch is what
makes the policies apply even when connecting as one.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "okr_tenant"
# NULLIF: after a transaction-local set_config a session keeps the setting as '', not NULL.
CURRENT_ORGANIZATION = "NULLIF(current_setting('okr.organization_id', true), '')::uuid"
TENANT_TABLES = (
    "api_keys",
    "teams",
    "cycles",
    "objectives",
    "key_results",
    "check_ins",
    "initiatives",
    "initiative_key_results",
    "alignment_links",
    "events",
    "idempotency_keys",
    "webhook_endpoints",
    "webhook_deliveries",
    "webhook_attempts",
)


def upgrade() -> None:
    # Roles belong to the whole cluster: another database (or a concurrent migration of
    # one) may have made it already.
    op.execute(
        f"""
        DO $$
        BEGIN
            CREATE ROLE {ROLE} NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$
        """
    )
    op.execute(
        f"""
        DO $$
        BEGIN
            EXECUTE format('GRANT {ROLE} TO %I', current_user);
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO {ROLE}', current_schema());
        EXCEPTION WHEN unique_violation THEN NULL;
        END $$
        """
    )
    for table in TENANT_TABLES:
        _protect(table, f"organization_id = {CURRENT_ORGANIZATION}")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {ROLE}")
    # A tenant reads its own organization (its name), nothing else, and changes none.
    _protect("organizations", f"id = {CURRENT_ORGANIZATION}")
    op.execute(f"GRANT SELECT ON organizations TO {ROLE}")


def _protect(table: str, condition: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} USING ({condition}) WITH CHECK ({condition})"
    )
    op.execute(
        f"CREATE POLICY owner_crosses_tenants ON {table} TO CURRENT_USER USING (true) "
        "WITH CHECK (true)"
    )


def downgrade() -> None:
    for table in (*TENANT_TABLES, "organizations"):
        op.execute(f"REVOKE ALL ON {table} FROM {ROLE}")
        op.execute(f"DROP POLICY IF EXISTS owner_crosses_tenants ON {table}")
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute(
        f"""
        DO $$
        BEGIN
            EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM {ROLE}', current_schema());
        END $$
        """
    )
    op.execute(
        f"""
        DO $$
        BEGIN
            DROP ROLE {ROLE};
        EXCEPTION WHEN dependent_objects_still_exist THEN
            NULL;  -- another database still uses the role: leave it to that one
        END $$
        """
    )
