"""Nothing of another organization can be read through the review queries."""

from typing import Any

from tests import factories
from tests.conftest import Api
from tests.reports.support import REPORT, check_in, contributes, cycle


async def their_okrs(api: Api) -> dict[str, str]:
    parent = await factories.team(api, "Their company")
    team = await factories.team(api, "Their squad", parent)
    cycle_id = await cycle(api, "Their quarter", -49, 50)
    root = await factories.objective(api, parent, cycle_id, "Their secret strategy")
    child = await factories.objective(api, team, cycle_id, "Grow by 50%")
    kr = await factories.key_result(api, root, "Launch the secret thing", 0, 1)
    await check_in(api, kr, 1)
    await contributes(api, child, objective=root)
    return {"team": team, "cycle": cycle_id, "root": root}


def codes(errors: list[dict[str, Any]]) -> list[str]:
    return [error["extensions"]["code"] for error in errors]


async def test_review_queries_refuse_another_organizations_ids(api: Api, other_api: Api) -> None:
    theirs = await their_okrs(other_api)
    mine = await cycle(api, "My quarter", -49, 50)
    my_team = await factories.team(api, "My squad")

    report = f"query($c: ID!, $t: ID) {{ cycleReport(cycleId: $c, teamId: $t) {{ {REPORT} }} }}"
    checks = (
        "query($c: ID!, $t: ID) { okrChecks(cycleId: $c, teamId: $t)"
        " { edges { node { code message } } } }"
    )
    for query in (report, checks):
        for variables in (
            {"c": theirs["cycle"], "t": None},  # their cycle
            {"c": theirs["cycle"], "t": my_team},
            {"c": mine, "t": theirs["team"]},  # my cycle, their team
        ):
            body = (await api.post(query, variables)).json()
            assert codes(body["errors"]) == ["NOT_FOUND"], (query, variables)
            assert body["data"] is None
            assert "secret" not in str(body).lower()

    data = await api.query(
        "query($id: ID!) { alignmentTree(rootId: $id) { objective { title } } }",
        {"id": theirs["root"]},
    )
    assert data == {"alignmentTree": None}
    # Their own view still works: the probe changed nothing.
    theirs_report = await other_api.query(
        "query($c: ID!) { cycleReport(cycleId: $c) { keyResultCount achievedCount } }",
        {"c": theirs["cycle"]},
    )
    assert theirs_report == {"cycleReport": {"keyResultCount": 1, "achievedCount": 1}}
