"""The workloads: the GraphQL documents each target answers, and the request bodies sent.

Every request body is JSON `{"operationName", "query", "variables"}`. The floor ignores
`query` and answers by `operationName` with the same JSON shape as okr-service.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------- okr-service (and the floor)

SVC_OBJECTIVE_FIELDS = """
  id title description owner kind state health progressMode createdAt
  keyResults {
    id title metric unit direction startValue targetValue currentValue weight confidence health
    latestCheckIn { id value health confidence note checkedAt }
    initiativeLinks { expectedImpact initiative { id title status impact confidence ease } }
  }
  contributesTo { __typename id title }
"""


# okr-service and the floor read a department subtree with one filter; PostGraphile has no
# recursive filter, so it gets one alias per team of the subtree (the same rows).
SVC_W1_TREE = (
    "query W1Tree($cycle: ID!, $team: ID!) {\n"
    "  objectives(filter: {cycleId: $cycle, teamId: $team, includeSubteams: true}, first: 100) {\n"
    "    edges { node { ...O } } } }\n"
    f"fragment O on Objective {{{SVC_OBJECTIVE_FIELDS}}}"
)

SVC_W1_PAGE = (
    "query W1Page($cycle: ID!, $first: Int!) {\n"
    "  objectives(filter: {cycleId: $cycle}, first: $first) {\n"
    "    pageInfo { hasNextPage endCursor } edges { node { ...O } } } }\n"
    f"fragment O on Objective {{{SVC_OBJECTIVE_FIELDS}}}"
)

SVC_W4 = (
    "query W4($id: ID!) { node(id: $id) { id ... on Objective { title description owner kind "
    "state health progressMode version createdAt updatedAt } } }"
)

# A team's page as Relay clients read it: its first objectives below the team, counted.
SVC_W5 = (
    "query W5($team: ID!) { node(id: $team) { ... on Team { id name\n"
    "  objectives(first: 10) { totalCount pageInfo { hasNextPage endCursor }\n"
    "    edges { cursor node { ...O } } } } } }\n"
    f"fragment O on Objective {{{SVC_OBJECTIVE_FIELDS}}}"
)

SVC_W2 = (
    "mutation W2($input: RecordCheckInInput!) { recordCheckIn(input: $input) {"
    " userErrors { field message code }"
    " checkIn { id value health confidence note checkedAt }"
    " keyResult { id currentValue health confidence version } } }"
)

SVC_W3 = (
    "query W3($cycle: ID!) { cycleReport(cycleId: $cycle) {"
    " keyResultCount achievedCount hitRate averageScore averageProgress objectiveCount"
    " checkInFreshness alignmentScore committedShare"
    " healthCounts { onTrack atRisk offTrack }"
    " teams { keyResultCount achievedCount hitRate averageScore averageProgress objectiveCount"
    "   healthCounts { onTrack atRisk offTrack } team { id name } }"
    " atRisk(first: 100) { totalCount edges { node { id title health currentValue"
    " targetValue } } } } }"
)

# ---------------------------------------------------------------- PostGraphile 4

PG_OBJECTIVE_FIELDS = """
  id title description owner kind state health progressMode createdAt
  keyResults: keyResultsByOrganizationIdAndObjectiveId(orderBy: ID_ASC) { nodes {
    id title metric unit direction startValue targetValue currentValue weight confidence health
    latestCheckIn: checkInsByOrganizationIdAndKeyResultId(first: 1, orderBy: [CHECKED_AT_DESC, ID_DESC]) {
      nodes { id value health confidence note checkedAt } }
    initiativeLinks: initiativeKeyResultsByOrganizationIdAndKeyResultId(orderBy: ID_ASC) { nodes {
      expectedImpact initiative: initiativeByOrganizationIdAndInitiativeId {
        id title status impact confidence ease } } }
  } }
  contributesTo: alignmentLinksByOrganizationIdAndSourceObjectiveId(
      condition: {kind: "CONTRIBUTES_TO"}, orderBy: ID_ASC) { nodes {
    objective: objectiveByOrganizationIdAndTargetObjectiveId { id title }
    keyResult: keyResultByOrganizationIdAndTargetKeyResultId { id title } } }
"""


def pg_w1_subtree(team_count: int) -> str:
    args = ", ".join(f"$t{i}: UUID!" for i in range(team_count))
    fields = "\n".join(
        f"  t{i}: allObjectives(condition: {{organizationId: $org, cycleId: $cycle, teamId: $t{i}}}, "
        f"orderBy: ID_ASC, first: 100) {{ nodes {{ ...O }} }}"
        for i in range(team_count)
    )
    return (
        f"query W1Subtree($org: UUID!, $cycle: UUID!, {args}) {{\n{fields}\n}}\n"
        f"fragment O on Objective {{{PG_OBJECTIVE_FIELDS}}}"
    )


PG_W1_PAGE = (
    "query W1Page($org: UUID!, $cycle: UUID!, $first: Int!) {\n"
    "  allObjectives(condition: {organizationId: $org, cycleId: $cycle}, orderBy: ID_ASC, first: $first) {\n"
    "    pageInfo { hasNextPage endCursor } nodes { ...O } } }\n"
    f"fragment O on Objective {{{PG_OBJECTIVE_FIELDS}}}"
)

# PostGraphile has no report: W3-equivalent = the rows a client needs to compute it
# (every objective of the cycle with its key results and their newest check-in time).
PG_W3 = (
    "query W3($org: UUID!, $cycle: UUID!) { allObjectives(condition: {organizationId: $org, cycleId: $cycle}) {"
    " totalCount nodes { id kind teamId"
    "  contributes: alignmentLinksByOrganizationIdAndSourceObjectiveId("
    '    condition: {kind: "CONTRIBUTES_TO"}) { totalCount }'
    "  keyResultsByOrganizationIdAndObjectiveId { nodes { id title health startValue targetValue currentValue"
    "   metric direction weight finalScore"
    "   checkInsByOrganizationIdAndKeyResultId(first: 1, orderBy: [CHECKED_AT_DESC]) { nodes { checkedAt } } } } } } }"
)

PG_W4 = (
    "query W4($id: ID!) { node(nodeId: $id) { nodeId ... on Objective { id title description "
    "owner kind state health progressMode version createdAt updatedAt } } }"
)


def gid(type_name: str, id_: str) -> str:
    """okr-service's global ID (Strawberry relay: base64 of `Type:id`)."""
    return base64.b64encode(f"{type_name}:{id_}".encode()).decode()


def body(operation: str, query: str, variables: dict[str, Any]) -> bytes:
    return orjson.dumps({"operationName": operation, "query": query, "variables": variables})


@dataclass
class Workload:
    key: str  # e.g. "W1 subtree"
    concurrencies: tuple[int, ...]
    bodies: dict[str, list[bytes]] = field(default_factory=dict)  # target kind -> bodies
    write: bool = False
    svc_only: bool = False  # the floor does not answer it (PostGraphile has no bodies for it)


def build(meta: dict[str, Any], pg_node_alias: str | None) -> list[Workload]:
    """The workloads over the generated data `meta` (see generate.py)."""
    rng = random.Random(7)
    org = meta["organization_id"]
    cycle = meta["w1_cycle"]
    subtrees = meta["subtrees"]
    team_count = len(subtrees[0])
    objectives = meta["sample_objectives"][:200]
    key_results = meta["sample_key_results"][:400]

    w1s = Workload("W1 subtree", (1, 16))
    pg_q = pg_w1_subtree(team_count)
    w1s.bodies["svc"] = [
        body("W1Tree", SVC_W1_TREE, {"cycle": gid("Cycle", cycle), "team": gid("Team", s[0])}) for s in subtrees
    ]
    w1s.bodies["pg"] = [
        body("W1Subtree", pg_q, {"org": org, "cycle": cycle, **{f"t{i}": t for i, t in enumerate(s)}}) for s in subtrees
    ]
    loads = [w1s]
    for first in (25, 100):
        w = Workload(f"W1 page {first}", (1, 16))
        w.bodies["svc"] = [body("W1Page", SVC_W1_PAGE, {"cycle": gid("Cycle", cycle), "first": first})]
        w.bodies["pg"] = [body("W1Page", PG_W1_PAGE, {"org": org, "cycle": cycle, "first": first})]
        loads.append(w)

    w4 = Workload("W4 node", (1, 16))
    w4.bodies["svc"] = [body("W4", SVC_W4, {"id": gid("Objective", o)}) for o in objectives]
    if pg_node_alias is not None:
        w4.bodies["pg"] = [
            body("W4", PG_W4, {"id": base64.b64encode(orjson.dumps([pg_node_alias, o])).decode()}) for o in objectives
        ]
    loads.append(w4)

    # okr-service only: a connection below the root (PostGraphile's equivalent differs).
    w5 = Workload("W5 team page", (1, 16), svc_only=True)
    teams = [team for subtree in subtrees for team in subtree]
    w5.bodies["svc"] = [body("W5", SVC_W5, {"team": gid("Team", team)}) for team in teams]
    loads.append(w5)

    if has_cycle_report():
        w3 = Workload("W3 report", (1, 16))
        w3.bodies["svc"] = [body("W3", SVC_W3, {"cycle": gid("Cycle", cycle)})]
        w3.bodies["pg"] = [body("W3", PG_W3, {"org": org, "cycle": cycle})]
        loads.append(w3)

    w2 = Workload("W2 checkIn", (1, 8, 32), write=True)
    w2.bodies["svc"] = [
        body(
            "W2",
            SVC_W2,
            {
                "input": {
                    "keyResultId": gid("KeyResult", k),
                    "value": round(rng.uniform(1, 90), 2),
                    "confidence": 0.8,
                    "note": "bench check-in",
                }
            },
        )
        for k in key_results
    ]
    loads.append(w2)
    return loads


def service_schema() -> str:
    import os

    root = Path(os.environ.get("BENCH_SERVICE_DIR", ROOT))
    return (root / "schema" / "schema.graphql").read_text()


def has_cycle_report() -> bool:
    return "cycleReport(" in service_schema()


def w3_note() -> str | None:
    if not has_cycle_report():
        return "W3 skipped: `cycleReport` is not in schema/schema.graphql yet."
    return (
        "W3 = cycleReport for the company (one quarter). The floor has no W3 (it would have to "
        "re-implement the report's arithmetic); PostGraphile's W3 returns the raw rows a "
        "client needs to compute the report (it has no aggregates without plugins)."
    )
