"""Mutations gathered in a fragment are still separate: one refused leaves the other's write."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Api


async def test_a_refused_mutation_in_a_fragment_keeps_its_siblings_write(
    api: Api, engine: AsyncEngine
) -> None:
    data = await api.query(
        "mutation { ...Both } fragment Both on Mutation {"
        ' a: createTeam(input: {name: "Growth"}) { team { name } userErrors { code } }'
        ' b: createTeam(input: {name: "  "}) { team { name } userErrors { code } } }'
    )
    assert data["a"] == {"team": {"name": "Growth"}, "userErrors": []}
    assert data["b"] == {"team": None, "userErrors": [{"code": "REQUIRED"}]}
    async with engine.connect() as connection:
        names = await connection.scalars(
            text("SELECT name FROM teams WHERE organization_id = :org"),
            {"org": api.organization_id},
        )
        assert list(names) == ["Growth"]
