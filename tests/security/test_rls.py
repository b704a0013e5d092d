"""Row-level security: under the tenant role a transaction sees and writes one organization
only, whatever its SQL forgets; every request runs under it."""

from collections.abc import AsyncIterator, Sequence
from typing import Any
from uuid import UUID

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from okr_service.kit.models import TenantMixin
from okr_service.kit.repository import Page, Window
from okr_service.objectives import repository as objectives_repository
from okr_service.objectives import service as objectives
from okr_service.objectives.models import Objective
from tests.conftest import Api, StatementCounter
from tests.graphql.support import db_state, uuid_of, world

SWITCH = (
    "SELECT set_config('role', 'okr_tenant', true), set_config('okr.organization_id', :org, true)"
)


@pytest.fixture
async def two_worlds(api: Api, other_api: Api) -> tuple[dict[str, str], dict[str, str]]:
    return await world(api), await world(other_api)


async def tenant_tables(connection: AsyncConnection) -> list[str]:
    rows = await connection.execute(
        text(
            "SELECT table_name FROM information_schema.columns WHERE column_name ="
            " 'organization_id' AND table_schema = current_schema() ORDER BY table_name"
        )
    )
    return [row.table_name for row in rows]


@pytest.fixture
async def as_tenant(engine: AsyncEngine, api: Api) -> AsyncIterator[AsyncConnection]:
    """A raw connection in a transaction switched into `api`'s organization, as requests do."""
    async with engine.connect() as connection:
        await connection.execute(text(SWITCH), {"org": str(api.organization_id)})
        yield connection
        await connection.rollback()


async def test_the_tenant_role_sees_only_its_organization_without_any_where(
    two_worlds: Any, api: Api, as_tenant: AsyncConnection
) -> None:
    rows = (await as_tenant.execute(text("SELECT * FROM objectives"))).all()
    assert len(rows) == 2
    assert {row.organization_id for row in rows} == {api.organization_id}
    for table in await tenant_tables(as_tenant):
        seen = await as_tenant.scalars(text(f"SELECT DISTINCT organization_id FROM {table}"))
        assert set(seen) <= {api.organization_id}, table
    organizations = await as_tenant.scalars(text("SELECT id FROM organizations"))
    assert list(organizations) == [api.organization_id]


async def test_the_tenant_role_cannot_write_into_another_organization(
    two_worlds: Any, api: Api, other_api: Api, engine: AsyncEngine, as_tenant: AsyncConnection
) -> None:
    theirs = await db_state(engine, other_api.organization_id)
    # Their rows cannot be changed or deleted: they are not there.
    for statement in (
        "UPDATE objectives SET title = 'pwned' WHERE organization_id = :other",
        "DELETE FROM key_results WHERE organization_id = :other",
    ):
        result = await as_tenant.execute(text(statement), {"other": other_api.organization_id})
        assert result.rowcount == 0  # type: ignore[attr-defined]
    for statement in (
        # A new row in their organization...
        "INSERT INTO teams (id, organization_id, name) VALUES (gen_random_uuid(), :other, 'x')",
        # ...or one of ours moved into it.
        "UPDATE teams SET organization_id = :other",
    ):
        with pytest.raises(DBAPIError, match="row-level security"):
            async with as_tenant.begin_nested():
                await as_tenant.execute(text(statement), {"other": other_api.organization_id})
    await as_tenant.rollback()
    assert await db_state(engine, other_api.organization_id) == theirs


async def test_the_tenant_role_changes_no_organization(
    api: Api, as_tenant: AsyncConnection
) -> None:
    with pytest.raises(DBAPIError, match="permission denied"):
        async with as_tenant.begin_nested():
            await as_tenant.execute(text("UPDATE organizations SET name = 'pwned'"))
    with pytest.raises(DBAPIError, match="permission denied"):
        async with as_tenant.begin_nested():
            await as_tenant.execute(text("SELECT * FROM alembic_version"))


async def unfiltered_page(
    db: AsyncSession,
    model: type[TenantMixin],
    organization_id: UUID,
    window: Window,
    filters: Sequence[Any] = (),
    keep: Any = None,
) -> Page:
    """`page` with its organization filter deliberately forgotten."""
    table = model.__table__  # type: ignore[attr-defined]
    rows = list(await db.execute(select(table).where(*filters).order_by(table.c.id)))
    return Page(rows[: window.first], len(rows) > window.first)


async def unfiltered_get_owned(
    db: AsyncSession, model: type[Any], organization_id: UUID, id_: UUID, **_: Any
) -> Any:
    """`get_owned` with its organization filter deliberately forgotten."""
    from okr_service.kit.errors import DomainError, ErrorCode

    found = (
        await db.execute(select(model).where(model.id == id_).with_for_update())
    ).scalar_one_or_none()
    if found is None:
        raise DomainError.single("id", "Not found.", ErrorCode.NOT_FOUND)
    return found


LIST = "{ objectives(first: 100) { edges { node { id } } } }"
IN_CYCLE = (
    "query($c: ID!) { objectives(first: 100, filter: {cycleId: $c}) { edges { node { id } } } }"
)


def ids_of(data: dict[str, Any]) -> set[str]:
    return {edge["node"]["id"] for edge in data["objectives"]["edges"]}


async def test_a_query_that_forgets_its_organization_filter_still_reads_one_tenant(
    two_worlds: tuple[dict[str, str], dict[str, str]],
    api: Api,
    app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mine, theirs = two_worlds
    monkeypatch.setattr(objectives_repository, "page", unfiltered_page)
    assert ids_of(await api.query(LIST)) == {mine["objective"], mine["objective2"]}
    assert ids_of(await api.query(IN_CYCLE, {"c": theirs["cycle"]})) == set()

    # The control: without the role switch (on a fresh connection, which no earlier read
    # switched) the same forgetful query leaks.
    async def no_switch(*_: Any) -> bool:
        return True

    monkeypatch.setattr("okr_service.kit.db.enter_tenant_session", no_switch)
    await app.state.tenant_sessions.engine.dispose()
    leaked = ids_of(await api.query(IN_CYCLE, {"c": theirs["cycle"]}))
    assert leaked == {theirs["objective"], theirs["objective2"]}


async def test_a_write_that_forgets_its_organization_filter_cannot_touch_another_tenant(
    two_worlds: tuple[dict[str, str], dict[str, str]],
    api: Api,
    other_api: Api,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, theirs = two_worlds
    monkeypatch.setattr(objectives, "get_owned", unfiltered_get_owned)
    before = await db_state(engine, other_api.organization_id)
    for name, input_ in [
        ("updateObjective", {"id": theirs["objective"], "title": "pwned"}),
        ("deleteObjective", {"id": theirs["objective"]}),
    ]:
        errors = await api.user_errors(name, input_)
        assert [error["code"] for error in errors] == ["NOT_FOUND"]
    assert await db_state(engine, other_api.organization_id) == before
    async with engine.connect() as connection:
        title = await connection.scalar(
            select(Objective.title).where(Objective.id == uuid_of(theirs["objective"]))
        )
    assert title != "pwned"


async def test_every_tenant_table_is_protected(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        tables = await tenant_tables(connection)
        assert len(tables) >= 14
        rows = await connection.execute(
            text(
                "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
                " array_agg(p.policyname ORDER BY p.policyname) AS policies"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " LEFT JOIN pg_policies p ON p.tablename = c.relname AND p.schemaname = n.nspname"
                " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                " GROUP BY c.relname, c.relrowsecurity, c.relforcerowsecurity"
            )
        )
        protected = {
            row.relname: (row.relrowsecurity, row.relforcerowsecurity, row.policies) for row in rows
        }
        for table in [*tables, "organizations"]:
            assert protected[table] == (
                True,
                True,
                ["owner_crosses_tenants", "tenant_isolation"],
            ), table
        # The tenant role can touch no table that lacks row-level security.
        granted = await connection.scalars(
            text(
                "SELECT DISTINCT table_name FROM information_schema.role_table_grants"
                " WHERE grantee = 'okr_tenant' AND table_schema = current_schema()"
            )
        )
        assert set(granted) == {*tables, "organizations"}


async def test_each_write_switches_once_right_after_authentication(
    api: Api, engine: AsyncEngine, sql_statements: StatementCounter
) -> None:
    """Reads switch their connection instead (tests/kit/test_tenant_switch.py)."""
    await api.query("{ viewer { role } }")  # warm up
    start = sql_statements.count
    await api.ok("createTeam", {"name": "Switched"}, "team { id }")
    statements = sql_statements.statements[start:]
    switches = [i for i, s in enumerate(statements) if "set_config('role', 'okr_tenant'" in s]
    assert switches == [1], statements  # after the API key lookup (no key cache in tests)
    assert "api_keys" in statements[0]

    # Transaction-local: a pooled connection comes back as the connecting user.
    async with engine.connect() as connection:
        who = (
            await connection.execute(
                text("SELECT current_user, current_setting('okr.organization_id', true) AS org")
            )
        ).one()
    assert who.current_user != "okr_tenant"
    assert who.org in (None, "")
