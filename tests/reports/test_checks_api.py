"""okrChecks(cycleId, teamId) and the `checks` fields: each rule fires in a realistic case,
none fires on a clean OKR, and no check ever blocks a write."""

from typing import Any

from tests import factories
from tests.conftest import Api
from tests.reports.support import at, check_in, contributes, cycle, done, node

CHECK = "code severity subjectId"


async def okr_checks(api: Api, cycle_id: str, team_id: str | None = None) -> list[Any]:
    data = await api.query(
        "query($c: ID!, $t: ID) { okrChecks(cycleId: $c, teamId: $t, first: 100) {"
        f" totalCount pageInfo {{ hasNextPage }} edges {{ node {{ {CHECK} message }} }} }} }}",
        {"c": cycle_id, "t": team_id},
    )
    page = data["okrChecks"]
    found: list[Any] = [edge["node"] for edge in page["edges"]]
    assert page["totalCount"] == len(found)
    assert page["pageInfo"]["hasNextPage"] is False
    assert all(check["message"] for check in found)
    return sorted(
        ((c["code"], c["severity"], c["subjectId"]) for c in found), key=lambda c: (c[0], c[2])
    )


def codes(*checks: tuple[str, str, str]) -> list[tuple[str, str, str]]:
    return sorted(checks, key=lambda c: (c[0], c[2]))


async def org(api: Api) -> dict[str, str]:
    ids: dict[str, str] = {}
    ids["acme"] = await factories.team(api, "Acme")
    ids["product"] = await factories.team(api, "Product", ids["acme"])
    ids["squad"] = await factories.team(api, "Onboarding squad", ids["product"])
    ids["cycle"] = await cycle(api, "Quarter", -49, 50)
    ids["company"] = await factories.objective(api, ids["acme"], ids["cycle"], "Win mid-market")
    ids["company_kr"] = await factories.key_result(api, ids["company"], "Raise accounts", 10, 20)
    await factories.key_result(api, ids["company"], "Increase expansion revenue", 1, 2)
    return ids


async def clean_objective(api: Api, ids: dict[str, str], title: str) -> tuple[str, list[str]]:
    """Qualitative, 3 outcome KRs with baselines, contributing to the company."""
    objective = await factories.objective(api, ids["squad"], ids["cycle"], title)
    krs = [
        await factories.key_result(api, objective, "Raise onboarding completion", 68, 85),
        await factories.key_result(
            api, objective, "Reduce time to complete setup", 60, 20, direction="DECREASE"
        ),
        await factories.key_result(api, objective, "Keep NPS", 52, 50, direction="AT_LEAST"),
    ]
    await contributes(api, objective, key_result=ids["company_kr"])
    return objective, krs


async def test_a_clean_okr_set_raises_no_check(api: Api) -> None:
    ids = await org(api)
    objective, krs = await clean_objective(api, ids, "Make onboarding a confident experience")
    await api.ok("updateCycle", {"id": ids["cycle"], "state": "ACTIVE"})
    for kr in krs:
        await check_in(api, kr, 70, checkedAt=at(-3))
    for kr in [*krs, ids["company_kr"]]:
        await check_in(api, kr, 70)
    # The company objective's second KR has had no check-in: only it is stale.
    found = await okr_checks(api, ids["cycle"])
    assert [code for code, _, _ in found] == ["STALE_CHECK_IN"]
    assert await okr_checks(api, ids["cycle"], ids["product"]) == []
    assert await node(api, objective, "... on Objective { checks { code } }") == {"checks": []}
    for kr in krs:
        assert await node(api, kr, "... on KeyResult { checks { code } }") == {"checks": []}


async def test_each_check_fires_in_a_realistic_case_without_blocking_writes(api: Api) -> None:
    ids = await org(api)
    c, squad = ids["cycle"], ids["squad"]
    good, good_krs = await clean_objective(api, ids, "Make onboarding a confident experience")
    # OBJECTIVE_HAS_METRIC and KR_COUNT (one KR); the write still succeeds.
    metric = await factories.objective(api, squad, c, "Grow activation by 20%")
    await contributes(api, metric, objective=ids["company"])
    baseline = await api.ok(
        "createKeyResult",
        {"objectiveId": metric, "title": "Raise weekly active teams", "targetValue": 400},
        "keyResult { id startValue }",
    )  # MISSING_BASELINE, and still created
    no_baseline = baseline["keyResult"]["id"]
    assert baseline["keyResult"]["startValue"] is None
    # ORPHAN (a squad objective supporting nothing), with outputs instead of outcomes.
    orphan = await factories.objective(api, squad, c, "Delight power users")
    launch = await factories.key_result(api, orphan, "Launch the referral programme", 0, 1)
    milestone = await factories.key_result(
        api, orphan, "Referral programme available", 0, 1, metric="MILESTONE"
    )
    # KR_COUNT with 0 and with 6 key results.
    empty = await factories.objective(api, squad, c, "Earn trust in our data")
    await contributes(api, empty, objective=ids["company"])
    crowded = await factories.objective(api, squad, c, "Make support effortless")
    await contributes(api, crowded, objective=ids["company"])
    for n in range(6):
        await factories.key_result(api, crowded, f"Reduce support contacts of kind {n}", 9, 5,
                                   direction="DECREASE")  # fmt: skip
    # Six objectives for the squad: TOO_MANY_OBJECTIVES.
    sixth = await factories.objective(api, squad, c, "Help admins onboard their teams")
    await contributes(api, sixth, objective=ids["company"])
    await factories.key_result(api, sixth, "Raise admin invites", 1, 9)
    await factories.key_result(api, sixth, "Raise invite acceptance", 10, 40)
    objectives = [good, metric, orphan, empty, crowded, sixth]
    assert len(objectives) == 6

    squad_checks = codes(
        ("KR_COUNT", "WARNING", metric),
        ("KR_COUNT", "WARNING", empty),
        ("KR_COUNT", "WARNING", crowded),
        ("MISSING_BASELINE", "WARNING", no_baseline),
        ("OBJECTIVE_HAS_METRIC", "WARNING", metric),
        ("ORPHAN", "INFO", orphan),
        ("OUTPUT_NOT_OUTCOME", "WARNING", launch),
        ("OUTPUT_NOT_OUTCOME", "WARNING", milestone),
        ("TOO_MANY_OBJECTIVES", "WARNING", squad),
    )
    assert await okr_checks(api, c, squad) == squad_checks
    assert await okr_checks(api, c, ids["product"]) == squad_checks  # the subtree
    assert await okr_checks(api, c) == squad_checks  # the company OKR is clean
    objective_checks = "... on Objective { checks { code severity subjectId } }"
    assert await node(api, metric, objective_checks) == {
        "checks": [
            {"code": "KR_COUNT", "severity": "WARNING", "subjectId": metric},
            {"code": "OBJECTIVE_HAS_METRIC", "severity": "WARNING", "subjectId": metric},
        ]
    }
    assert await node(api, orphan, objective_checks) == {
        "checks": [{"code": "ORPHAN", "severity": "INFO", "subjectId": orphan}]
    }
    # A root team's objective supporting nothing is no orphan: it leads.
    assert await node(api, ids["company"], objective_checks) == {"checks": []}

    # STALE_CHECK_IN only in an active cycle: more than 7 days without a check-in.
    await api.ok("updateCycle", {"id": c, "state": "ACTIVE"})
    fresh = [good_krs[0], good_krs[2]]
    for kr in fresh:
        await check_in(api, kr, 70, checkedAt=at(-6))
    await check_in(api, good_krs[0], 71, checkedAt=at(-10))  # older than the latest
    stale = good_krs[1]
    await check_in(api, stale, 50, checkedAt=at(-8, hour=0))  # the latest: 8+ days ago
    # An edit is no check-in.
    await api.ok("updateKeyResult", {"id": stale, "title": "Reduce time to set up"})
    found = await okr_checks(api, c, squad)
    stale_ones = {subject for code, _, subject in found if code == "STALE_CHECK_IN"}
    # Every squad KR but the two checked in 6 days ago: never checked in since the cycle
    # started 49 days ago, or last 8 days ago.
    assert not stale_ones & set(fresh)
    assert stale in stale_ones
    assert no_baseline in stale_ones
    assert launch in stale_ones
    # 14 squad KRs (3 + 1 + 2 + 0 + 6 + 2) less the 2 fresh ones.
    assert len(stale_ones) == 12
    kr_checks = await node(api, stale, "... on KeyResult { checks { code subjectId } }")
    assert kr_checks == {"checks": [{"code": "STALE_CHECK_IN", "subjectId": stale}]}


async def test_sandbagging_flags_a_team_that_always_hits_every_key_result(api: Api) -> None:
    safe = await factories.team(api, "Safe squad")
    bold = await factories.team(api, "Bold squad")
    once = await factories.team(api, "New squad")
    past = [
        await cycle(api, "Q1", -300, -211),
        await cycle(api, "Q2", -210, -121),
    ]
    for n, cycle_id in enumerate(past):
        for team, values in ((safe, (20, 30)), (bold, (20, 12 if n else 30))):
            objective = await factories.objective(api, team, cycle_id, "Grow usage steadily")
            first = await factories.key_result(api, objective, "Raise usage", 10, 20)
            second = await factories.key_result(api, objective, "Raise retention", 10, 30)
            await check_in(api, first, values[0])
            await check_in(api, second, values[1])
        await done(api, "closeCycle", {"cycleId": cycle_id}, "cycle { id }")
    # The new squad had one perfect cycle only: not a pattern yet.
    late = await cycle(api, "Q2b", -120, -100)
    objective = await factories.objective(api, once, late, "Grow usage steadily")
    kr = await factories.key_result(api, objective, "Raise usage", 10, 20)
    await check_in(api, kr, 20)
    await done(api, "closeCycle", {"cycleId": late}, "cycle { id }")

    now = await cycle(api, "Q3", -99, 50)
    for team in (safe, bold, once):
        objective = await factories.objective(api, team, now, "Grow usage steadily")
        await factories.key_result(api, objective, "Raise usage", 10, 20)
        await factories.key_result(api, objective, "Raise retention", 10, 20)
    found = await okr_checks(api, now)
    assert found == [("SANDBAGGING", "INFO", safe)]
    assert await okr_checks(api, now, bold) == []
