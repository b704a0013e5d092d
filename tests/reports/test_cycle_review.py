"""The quarterly review the issue asks for, end to end through the API.

A realistic organisation: Acme (company) -> Product (department) -> Onboarding squad and Growth
squad, plus Platform under Acme. An annual company cycle holds a quarter that ended yesterday
(days -91..-1, 91 days), so at review time every key result's expected progress is exactly 1.0
and derived health is: ON_TRACK when progress >= 0.90 (gap <= 0.10), AT_RISK when progress >=
0.75 (gap <= 0.25), OFF_TRACK below.

Quarterly key results (start -> target, final value, progress, health at review):
  K0 Acme        INCREASE 100 -> 200, ends 150:      0.50            derived OFF_TRACK
  K1 Onboarding  INCREASE 68 -> 80 (weight 2), 80:   1.00 achieved   derived ON_TRACK
  K2 Platform*   DECREASE 60 -> 20 min, ends 40:     20/40 = 0.50    set AT_RISK (derived: OFF)
  K3 Growth      INCREASE 10 -> 20, ends 17:         0.70            derived OFF_TRACK
  K4 Growth      AT_MOST 6 -> 5 (%), ends 4.8:       1.00 achieved   derived ON_TRACK
  K5 Growth      AT_LEAST 52 -> 50 (NPS), ends 45:   45/50 = 0.90    derived ON_TRACK (gap 0.10)
  K6 Growth      MILESTONE 0 -> 1, still 0:          0.00            set AT_RISK (derived: OFF)
  K7 Platform    AT_LEAST 99.5 -> 99.9, ends 99.95:  1.00 achieved   derived ON_TRACK
  K8 Platform    DECREASE 800 -> 400 ms, ends 500:   300/400 = 0.75  derived AT_RISK (gap 0.25)
  K9 Product     INCREASE 20 -> 60 %, ends 52:       32/40 = 0.80    derived AT_RISK
  (*K2 sits on the Onboarding objective but is owned by Platform: a shared OKR.)
  K10 on a cancelled Onboarding objective: counts nowhere.
"""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from okr_service.key_results.models import KeyResult
from tests import factories
from tests.conftest import Api
from tests.reports.support import (
    approx,
    at,
    check_in,
    contributes,
    cycle,
    cycle_report,
    done,
    events,
    link_initiative,
    node,
    uuid_of,
)

QUARTER_START = -91  # the quarter runs from day -91 to day -1: 91 days, 13 weeks


def week(k: int) -> str:
    """Noon on the last day of week k of the quarter (k = 13 is its last day, yesterday)."""
    return at(QUARTER_START + 7 * k - 1)


@dataclass
class Plan:
    """A key result's quarter: weekly check-ins moving linearly to `final`."""

    start: float
    final: float
    weeks: int = 13  # check-ins in weeks 1..weeks
    last_health: str | None = None  # health named by the last check-in
    values: list[float] = field(default_factory=list)

    def schedule(self) -> list[tuple[str, float]]:
        step = (self.final - self.start) / self.weeks
        return [
            (week(k), self.final if k == self.weeks else round(self.start + step * k, 4))
            for k in range(1, self.weeks + 1)
        ]


async def organisation(api: Api) -> dict[str, str]:
    ids: dict[str, str] = {}
    ids["acme"] = await factories.team(api, "Acme")
    ids["product"] = await factories.team(api, "Product", ids["acme"])
    ids["onboarding"] = await factories.team(api, "Onboarding squad", ids["product"])
    ids["growth"] = await factories.team(api, "Growth squad", ids["product"])
    ids["platform"] = await factories.team(api, "Platform", ids["acme"])
    ids["year"] = await cycle(api, "Year", -200, 165)
    ids["quarter"] = await cycle(api, "Quarter", QUARTER_START, -1, ids["year"])

    # The annual company objective and its key results.
    ids["annual"] = await factories.objective(
        api, ids["acme"], ids["year"], "Become the tool product teams love to adopt"
    )
    ids["A1"] = await factories.key_result(
        api, ids["annual"], "Raise onboarding completion", 68, 85, metric="PERCENTAGE"
    )
    ids["A2"] = await factories.key_result(
        api, ids["annual"], "Cut time to first value", 24, 2, direction="DECREASE", unit="h"
    )
    ids["A3"] = await factories.key_result(
        api, ids["annual"], "Keep availability", 99.5, 99.9, direction="AT_LEAST", unit="%"
    )
    return ids


async def quarter_okrs(api: Api, ids: dict[str, str]) -> dict[str, Plan]:
    """The quarterly objectives, aligned to the annual OKR, and their key results' plans."""
    q = ids["quarter"]
    ids["O0"] = await factories.objective(api, ids["acme"], q, "Win the mid-market")
    ids["O1"] = await factories.objective(
        api, ids["onboarding"], q, "Make onboarding a confidence-building experience"
    )
    ids["O2"] = await factories.objective(
        api, ids["growth"], q, "Turn trial users into loyal customers", kind="ASPIRATIONAL"
    )
    ids["O3"] = await factories.objective(
        api, ids["growth"], q, "Delight our power users", kind="ASPIRATIONAL"
    )
    ids["O4"] = await factories.objective(
        api, ids["platform"], q, "Make the platform boringly reliable"
    )
    ids["O5"] = await factories.objective(
        api, ids["product"], q, "Ground every roadmap bet in customer evidence"
    )
    ids["O6"] = await factories.objective(api, ids["onboarding"], q, "Abandoned idea")
    # Alignment, crossing cycles: quarterly objectives support the annual OKR. O3 is an orphan.
    await contributes(api, ids["O1"], key_result=ids["A1"])
    await contributes(api, ids["O2"], objective=ids["annual"])
    await contributes(api, ids["O4"], key_result=ids["A3"])
    await contributes(api, ids["O5"], objective=ids["annual"])

    kr = factories.key_result
    ids["K0"] = await kr(api, ids["O0"], "Grow paying mid-market accounts", 100, 200)
    ids["K1"] = await kr(api, ids["O1"], "Raise onboarding completion", 68, 80, weight=2)
    ids["K2"] = await kr(
        api, ids["O1"], "Reduce setup time", 60, 20, direction="DECREASE",
        teamId=ids["platform"], unit="min",
    )  # fmt: skip
    ids["K3"] = await kr(api, ids["O2"], "Increase trial conversion", 10, 20, unit="%")
    ids["K4"] = await kr(api, ids["O2"], "Keep monthly churn", 6, 5, direction="AT_MOST")
    ids["K5"] = await kr(api, ids["O3"], "Keep NPS", 52, 50, direction="AT_LEAST")
    ids["K6"] = await kr(api, ids["O3"], "Referral programme live", 0, 1, metric="MILESTONE")
    ids["K7"] = await kr(api, ids["O4"], "Keep availability", 99.5, 99.9, direction="AT_LEAST")
    ids["K8"] = await kr(api, ids["O4"], "Cut p95 latency", 800, 400, direction="DECREASE")
    ids["K9"] = await kr(api, ids["O5"], "Increase bets backed by interviews", 20, 60)
    ids["K10"] = await kr(api, ids["O6"], "Raise something nobody measures", 1, 2)
    await api.ok("updateObjective", {"id": ids["O6"], "state": "CANCELLED"})

    # Open bets with expected impacts, written as the metric's move in its unit.
    tour = await factories.initiative(
        api, ids["onboarding"], "Interactive product tour", status="IN_PROGRESS"
    )
    wizard = await factories.initiative(api, ids["platform"], "Setup wizard", status="PLANNED")
    await link_initiative(api, tour, ids["K1"], 8)
    await link_initiative(api, tour, ids["K2"], -5)
    await link_initiative(api, wizard, ids["K2"], -10)
    await link_initiative(api, wizard, ids["K8"], -40)

    return {
        "K0": Plan(100, 150, weeks=12),  # last check-in 8 days ago: stale
        "K1": Plan(68, 80),
        "K2": Plan(60, 40, last_health="AT_RISK"),
        "K3": Plan(10, 17, weeks=11),  # last check-in 15 days ago: stale
        "K4": Plan(6, 4.8),
        "K5": Plan(52, 45),
        "K6": Plan(0, 0, weeks=9, last_health="AT_RISK"),  # 29 days ago: stale
        "K7": Plan(99.5, 99.95),
        "K8": Plan(800, 500),
        "K9": Plan(20, 52),
        "K10": Plan(1, 1.5, weeks=2),
    }


async def run_quarter(api: Api, ids: dict[str, str], plans: dict[str, Plan]) -> None:
    for name, plan in plans.items():
        schedule = plan.schedule()
        for n, (checked_at, value) in enumerate(schedule, start=1):
            fields: dict[str, Any] = {"checkedAt": checked_at, "confidence": 0.7}
            if n == len(schedule) and plan.last_health:
                fields["health"] = plan.last_health
            await check_in(api, ids[name], value, **fields)


def figures(
    count: int, achieved: int, hit: float | None, average: float | None, health: tuple[int, ...]
) -> dict[str, Any]:
    on, risk, off = health
    return {
        "keyResultCount": count,
        "achievedCount": achieved,
        "hitRate": hit,
        "averageScore": average,  # before close the score is the progress so far
        "averageProgress": average,
        "healthCounts": {"onTrack": on, "atRisk": risk, "offTrack": off},
    }


def team_row(name: str, objectives: int, **figures_: Any) -> dict[str, Any]:
    return {"team": {"name": name}, "objectiveCount": objectives, **figures_}


def expected_report(cycle_id: str, state: str, retrospective: Any) -> dict[str, Any]:
    return {
        # 10 live KRs (K10's objective is cancelled); achieved K1, K4, K7.
        # Progress sum .5 + 1 + .5 + .7 + 1 + .9 + 0 + 1 + .75 + .8 = 7.15 -> mean 0.715.
        # ON: K1 K4 K5 K7; AT_RISK: K2 K6 (set by hand) K8 K9; OFF: K0 K3.
        **figures(10, 3, 3 / 10, 0.715, (4, 4, 2)),
        "onTrackCount": 4,
        "atRiskCount": 4,
        "offTrackCount": 2,
        "objectiveCount": 6,  # O0..O5; O6 is cancelled
        # Last check-ins: yesterday for 7 KRs; 8 (K0), 15 (K3) and 29 (K6) days ago: 7 / 10.
        "checkInFreshness": 0.7,
        # Objectives of teams with a parent: O1 O2 O3 O4 O5 (O0 is Acme's, the root);
        # all but O3 contribute to something: 4 / 5.
        "alignmentScore": 0.8,
        # Committed: O0 O1 O4 O5; aspirational: O2 O3 -> 4 / 6.
        "committedShare": 4 / 6,
        # One row per team owning objectives or KRs, by name; KRs count for their owner.
        "teams": [
            team_row("Acme", 1, **figures(1, 0, 0.0, 0.5, (0, 0, 1))),  # K0
            # K3 .7, K4 1, K5 .9, K6 0: 2.6 / 4 = 0.65; achieved K4.
            team_row("Growth squad", 2, **figures(4, 1, 0.25, 0.65, (2, 1, 1))),
            # K1 only: K2 on its objective is Platform's.
            team_row("Onboarding squad", 1, **figures(1, 1, 1.0, 1.0, (1, 0, 0))),
            # K2 .5, K7 1, K8 .75: 2.25 / 3 = 0.75; no objective of its own beyond O4.
            team_row("Platform", 1, **figures(3, 1, 1 / 3, 0.75, (1, 2, 0))),
            team_row("Product", 1, **figures(1, 0, 0.0, 0.8, (0, 1, 0))),  # K9
        ],
        # Off track first (K0 .5, K3 .7), then at risk (K6 0, K2 .5, K8 .75, K9 .8).
        "atRisk": [
            {"title": "Grow paying mid-market accounts"},
            {"title": "Increase trial conversion"},
            {"title": "Referral programme live"},
            {"title": "Reduce setup time"},
            {"title": "Cut p95 latency"},
            {"title": "Increase bets backed by interviews"},
        ],
        "retrospective": retrospective,
        "cycle": {"id": cycle_id, "state": state},
    }


RETROSPECTIVE = {
    "accelerators": "Weekly metric reviews with the squads",
    "blockers": "Latency work waited on the data pipeline",
    "lessons": "Milestones hid the real outcome; measure adoption instead",
}


async def test_quarterly_review_of_a_multi_team_organisation(api: Api, engine: AsyncEngine) -> None:
    ids = await organisation(api)
    plans = await quarter_okrs(api, ids)
    await run_quarter(api, ids, plans)

    report = await cycle_report(api, ids["quarter"])
    assert report == approx(expected_report(ids["quarter"], "PLANNING", None))

    # The key results' own figures agree with the report.
    found = await node(
        api,
        ids["O1"],
        "... on Objective { progress score expectedProgress health"
        " keyResults { title progress score achieved expectedProgress health impactCoverage"
        " history { edges { node { value } } } } }",
    )
    assert found == approx(
        {
            # (2 * 1.0 + 1 * 0.5) / 3 = 0.8333: K1 weighs double.
            "progress": 2.5 / 3,
            "score": 2.5 / 3,
            "expectedProgress": 1.0,
            "health": "AT_RISK",  # gap 1 - 0.8333 = 0.1667: between 0.10 and 0.25
            "keyResults": [
                {
                    "title": "Raise onboarding completion",
                    "progress": 1.0,
                    "score": 1.0,
                    "achieved": True,
                    "expectedProgress": 1.0,
                    "health": "ON_TRACK",
                    "impactCoverage": None,  # no gap left
                    "history": {
                        "edges": [{"node": {"value": v}} for _, v in plans["K1"].schedule()]
                    },
                },
                {
                    "title": "Reduce setup time",
                    "progress": 0.5,
                    "score": 0.5,
                    "achieved": False,
                    "expectedProgress": 1.0,
                    "health": "AT_RISK",
                    # Cuts of 5 + 10 minutes (-5, -10) over a gap of 40 - 20 = 20: 0.75.
                    "impactCoverage": 0.75,
                    "history": {
                        "edges": [{"node": {"value": v}} for _, v in plans["K2"].schedule()]
                    },
                },
            ],
        }
    )

    # The Product subtree: O1 O2 O3 O5 with all their KRs, the shared K2 (Platform's) too.
    scoped = await cycle_report(api, ids["quarter"], ids["product"])
    assert scoped == approx(
        {
            # K1 K2 K3 K4 K5 K6 K9; achieved K1 K4; progress 1+.5+.7+1+.9+0+.8 = 4.9 / 7 = .7.
            **figures(7, 2, 2 / 7, 0.7, (3, 3, 1)),
            "onTrackCount": 3,
            "atRiskCount": 3,
            "offTrackCount": 1,
            "objectiveCount": 4,
            "checkInFreshness": 5 / 7,  # K3 and K6 stale
            "alignmentScore": 0.75,  # O1 O2 O5 of O1 O2 O3 O5
            "committedShare": 0.5,  # O1 O5 of four
            "teams": [
                team_row("Growth squad", 2, **figures(4, 1, 0.25, 0.65, (2, 1, 1))),
                team_row("Onboarding squad", 1, **figures(1, 1, 1.0, 1.0, (1, 0, 0))),
                team_row("Platform", 0, **figures(1, 0, 0.0, 0.5, (0, 1, 0))),  # K2 only
                team_row("Product", 1, **figures(1, 0, 0.0, 0.8, (0, 1, 0))),
            ],
            "atRisk": [
                {"title": "Increase trial conversion"},
                {"title": "Referral programme live"},
                {"title": "Reduce setup time"},
                {"title": "Increase bets backed by interviews"},
            ],
            "retrospective": None,
            "cycle": {"id": ids["quarter"], "state": "PLANNING"},
        }
    )

    closed = await done(
        api,
        "closeCycle",
        {"cycleId": ids["quarter"], "retrospective": RETROSPECTIVE},
        "cycle { id state }",
    )
    assert closed["cycle"] == {"id": ids["quarter"], "state": "CLOSED"}
    after = await cycle_report(api, ids["quarter"])
    assert after == approx(expected_report(ids["quarter"], "CLOSED", RETROSPECTIVE))
    changed = await events(engine, api.organization_id, "cycle.state_changed")
    assert [(e["subject_id"], e["data"]["changes"]) for e in changed] == [
        (uuid_of(ids["quarter"]), {"state": {"from": "PLANNING", "to": "CLOSED"}})
    ]

    # Scores are frozen: a late check-in is refused and the score stays.
    refused = await api.user_errors("recordCheckIn", {"keyResultId": ids["K3"], "value": 20})
    assert [e["code"] for e in refused] == ["ALREADY_CLOSED"]
    # Even if the stored value moves (a data fix in SQL), the graded result does not.
    async with engine.begin() as connection:
        await connection.execute(
            update(KeyResult).where(KeyResult.id == uuid_of(ids["K3"])).values(current_value=20)
        )
    k3 = await node(api, ids["K3"], "... on KeyResult { progress score achieved }")
    assert k3 == approx({"progress": 1.0, "score": 0.7, "achieved": True})
    final = await cycle_report(api, ids["quarter"])
    # averageScore still (7.15) / 10; progress now counts K3 at 1: 7.45 / 10.
    assert final["averageScore"] == approx(0.715)
    assert final["averageProgress"] == approx(0.745)

    # The annual cycle still runs: its report sees only the annual objective.
    annual = await cycle_report(api, ids["year"])
    assert annual["keyResultCount"] == 3
    assert annual["objectiveCount"] == 1
    assert annual["alignmentScore"] is None  # no objective of a non-root team in it
