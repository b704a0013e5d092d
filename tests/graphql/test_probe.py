import base64
from tests import factories
from tests.conftest import Api


async def test_probe(api: Api) -> None:
    ids = await factories.okr(api)
    for v in ["not-an-id", base64.b64encode(b"garbage").decode(), base64.b64encode(b"Foo:1234").decode(), base64.b64encode(b"Team:nope").decode()]:
        r = await api.post("query($id: ID!) { node(id: $id) { id } }", {"id": v})
        print("NODE", v, r.json())
    r = await api.post("mutation($i: CreateCycleInput!) { createCycle(input: $i) { cycle { id } } }", {"i": {"name": "x", "startsOn": "2026-13-01", "endsOn": "2026-01-01"}})
    print("DATE", r.json())
    r = await api.post("query($id: ID!) { node(id: $id) { ... on Objective { contributors { id } keyResults { contributors { id } } } } }", {"id": ids["objective"]})
    print("CONTRIB", r.json())
    r = await api.post("{ objectives(first: 101) { edges { cursor } } }")
    print("FIRST", r.json())
    r = await api.post("{ objectives(after: \"zzz\") { edges { cursor } } }")
    print("AFTER", r.json())
    r = await api.post("mutation { a: createTeam(input: {name: \"A\"}) { team { id } } b: createTeam(input: {name: \"\"}) { team { id } userErrors { code } } }")
    print("TWO", r.json())
    r = await api.post("mutation($i: UpdateInitiativeInput!) { updateInitiative(input: $i) { initiative { id } userErrors { field code } } }", {"i": {"id": "x", "externalRef": {"url": "ftp://x"}}})
    print("URL", r.json())
