"""relay-compiler, as a Relay frontend runs it, compiles a @connection + @refetchable fragment
on a team's objectives against the committed schema; the query it generates pages the live
API to the end."""

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests import factories
from tests.conftest import Api
from tests.tools import ROOT, run

RELAY = Path(__file__).parent


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The operations of src/ compiled into a copy of this folder (the tree stays clean)."""
    project = tmp_path_factory.mktemp("relay")
    shutil.copytree(RELAY / "src", project / "src")
    config = json.loads((RELAY / "relay.config.json").read_text())
    config["schema"] = str(ROOT / "schema" / "schema.graphql")
    (project / "relay.config.json").write_text(json.dumps(config))
    result = run("relay-compiler", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    return project / "src" / "__generated__"


def operation_text(artifact: Path) -> str:
    """The GraphQL text relay-compiler generated for a query (its `params.text`)."""
    found = re.search(r'"text": ("(?:[^"\\]|\\.)*")', artifact.read_text())
    assert found, artifact
    text: str = json.loads(found.group(1))
    return text


def test_the_fragment_compiles_into_a_pagination_query(compiled: Path) -> None:
    assert sorted(path.name for path in compiled.iterdir()) == [
        "OrganizationRefetchQuery.graphql.js",
        "TeamObjectivesPaginationQuery.graphql.js",
        "TeamObjectivesQuery.graphql.js",
        "TeamObjectives_organization.graphql.js",
        "TeamObjectives_team.graphql.js",
    ]
    fragment = (compiled / "TeamObjectives_team.graphql.js").read_text()
    assert "./TeamObjectivesPaginationQuery.graphql" in fragment  # @refetchable's query
    assert '"fragmentPathInResult": [\n        "node"' in fragment  # refetched by node(id:)
    assert '"__TeamObjectives_objectives_connection"' in fragment  # @connection's store key


async def test_the_generated_queries_page_and_refetch_the_live_api(
    api: Api, compiled: Path
) -> None:
    team, cycle = await factories.team(api, "Growth"), await factories.cycle(api)
    created = [await factories.objective(api, team, cycle, f"Objective {n}") for n in range(5)]
    paginate = operation_text(compiled / "TeamObjectivesPaginationQuery.graphql.js")

    seen: list[str] = []
    cursor = None
    while True:
        data: dict[str, Any] = await api.query(paginate, {"id": team, "count": 2, "cursor": cursor})
        objectives = data["node"]["objectives"]
        assert objectives["totalCount"] == 5
        seen += [edge["node"]["id"] for edge in objectives["edges"]]
        if not objectives["pageInfo"]["hasNextPage"]:
            break
        cursor = objectives["pageInfo"]["endCursor"]
    assert seen == created

    page = operation_text(compiled / "TeamObjectivesQuery.graphql.js")
    data = await api.query(page, {"team": team})
    organization = data["viewer"]["organization"]
    refetch = operation_text(compiled / "OrganizationRefetchQuery.graphql.js")
    again = await api.query(refetch, {"id": organization["id"]})
    assert again["node"] == {"__typename": "Organization", **organization}
