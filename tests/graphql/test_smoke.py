from tests import factories
from tests.conftest import Api


async def test_created_objective_reads_back_with_its_relations(api: Api) -> None:
    ids = await factories.okr(api)
    data = await api.query(
        "query($id: ID!) { node(id: $id) { ... on Objective { title team { id } cycle { id }"
        " keyResults { id startValue targetValue } } } }",
        {"id": ids["objective"]},
    )
    node = data["node"]
    assert node["title"] == "Delight new customers"
    assert node["team"]["id"] == ids["team"]
    assert node["cycle"]["id"] == ids["cycle"]
    assert node["keyResults"] == [
        {"id": ids["key_result"], "startValue": 10.0, "targetValue": 20.0}
    ]
