"""A small, realistic organisation to explore the API with (`okr-service serve --demo`)."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.alignment.service import create_alignment
from okr_service.auth.keys import revoke_keys_named
from okr_service.auth.service import create_api_key
from okr_service.cycles.service import create_cycle, update_cycle
from okr_service.initiatives.service import create_initiative, link_initiative
from okr_service.key_results.service import create_key_result, record_check_in
from okr_service.kit.clock import Clock
from okr_service.kit.principal import Scope
from okr_service.objectives.service import create_objective, update_objective
from okr_service.okr.enums import (
    AlignmentKind,
    CycleState,
    Direction,
    Health,
    InitiativeStatus,
    Metric,
    ObjectiveKind,
    ObjectiveState,
)
from okr_service.organizations.repository import find_by_name
from okr_service.organizations.service import create_organization, system_principal
from okr_service.teams.service import create_team

DEMO_ORGANIZATION = "Acme Demo"
DEMO_KEY_NAME = "demo admin"


async def load_demo(db: AsyncSession, today: date | None = None) -> str:
    """Create the demo organisation once; return its admin API key. A later call rotates
    the key: the earlier one is revoked, so the demo never holds more than one."""
    existing = await find_by_name(db, DEMO_ORGANIZATION)
    if existing is not None:
        await revoke_keys_named(db, system_principal(existing.id, "demo"), DEMO_KEY_NAME)
        _, secret = await create_api_key(db, existing.id, DEMO_KEY_NAME, [Scope.ADMIN])
        return secret
    organization, secret = await create_organization(db, DEMO_ORGANIZATION, key_name=DEMO_KEY_NAME)
    await seed(db, system_principal(organization.id, "demo"), today or date.today())
    return secret


async def seed(db: AsyncSession, actor, today: date) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    company = await create_team(db, actor, name="Acme", parent_id=None)
    product = await create_team(db, actor, name="Product", parent_id=company.id)
    onboarding = await create_team(db, actor, name="Onboarding squad", parent_id=product.id)
    platform = await create_team(db, actor, name="Platform", parent_id=company.id)

    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    quarter_end = (quarter_start + timedelta(days=95)).replace(day=1) - timedelta(days=1)
    year = await create_cycle(
        db,
        actor,
        name=str(today.year),
        starts_on=date(today.year, 1, 1),
        ends_on=date(today.year, 12, 31),
        parent_id=None,
    )
    quarter = await create_cycle(
        db,
        actor,
        name=f"Q{(today.month - 1) // 3 + 1} {today.year}",
        starts_on=quarter_start,
        ends_on=quarter_end,
        parent_id=year.id,
    )
    for cycle in (year, quarter):
        await update_cycle(db, actor, cycle.id, {"state": CycleState.ACTIVE})

    growth = await create_objective(
        db,
        actor,
        title="Become the tool new customers love from day one",
        description="Company objective for the year.",
        team_id=company.id,
        cycle_id=year.id,
        kind=ObjectiveKind.ASPIRATIONAL,
    )
    activation = await create_key_result(
        db,
        actor,
        now=now,
        objective_id=growth.id,
        title="Raise 30-day activation",
        metric=Metric.PERCENTAGE,
        direction=Direction.INCREASE,
        start_value=41,
        target_value=60,
        unit="%",
        team_id=None,
    )
    await create_key_result(
        db,
        actor,
        now=now,
        objective_id=growth.id,
        title="Keep monthly churn under 3%",
        metric=Metric.PERCENTAGE,
        direction=Direction.AT_MOST,
        start_value=3.4,
        target_value=3,
        unit="%",
        team_id=None,
    )

    onboarding_objective = await create_objective(
        db,
        actor,
        title="Turn onboarding into a confidence-building experience",
        description=None,
        team_id=onboarding.id,
        cycle_id=quarter.id,
        kind=ObjectiveKind.COMMITTED,
    )
    completion = await create_key_result(
        db,
        actor,
        now=now,
        objective_id=onboarding_objective.id,
        title="Raise onboarding completion",
        metric=Metric.PERCENTAGE,
        direction=Direction.INCREASE,
        start_value=68,
        target_value=85,
        unit="%",
        team_id=None,
    )
    time_to_value = await create_key_result(
        db,
        actor,
        now=now,
        objective_id=onboarding_objective.id,
        title="Cut time to first value",
        metric=Metric.NUMBER,
        direction=Direction.DECREASE,
        start_value=1440,
        target_value=15,
        unit="min",
        team_id=platform.id,
    )
    reliability = await create_objective(
        db,
        actor,
        title="Make the platform something teams never think about",
        description=None,
        team_id=platform.id,
        cycle_id=quarter.id,
        kind=ObjectiveKind.COMMITTED,
    )
    await create_key_result(
        db,
        actor,
        now=now,
        objective_id=reliability.id,
        title="Keep API availability",
        metric=Metric.PERCENTAGE,
        direction=Direction.AT_LEAST,
        start_value=99.95,
        target_value=99.99,
        unit="%",
        team_id=None,
    )
    for objective in (growth, onboarding_objective, reliability):
        await update_objective(db, actor, objective.id, {"state": ObjectiveState.ACTIVE}, now)

    await create_alignment(
        db,
        actor,
        kind=AlignmentKind.CONTRIBUTES_TO,
        source_objective_id=onboarding_objective.id,
        target_objective_id=None,
        target_key_result_id=activation.id,
    )
    await create_alignment(
        db,
        actor,
        kind=AlignmentKind.DEPENDS_ON,
        source_objective_id=onboarding_objective.id,
        target_objective_id=reliability.id,
        target_key_result_id=None,
    )

    tour = await create_initiative(
        db,
        actor,
        team_id=onboarding.id,
        fields={
            "title": "Interactive product tour",
            "status": InitiativeStatus.IN_PROGRESS,
            "impact": 8,
            "confidence": 6,
            "ease": 5,
            "start_date": quarter_start,
            "external_system": "jira",
            "external_key": "ONB-42",
            "external_url": "https://acme.atlassian.net/browse/ONB-42",
        },
    )
    await link_initiative(
        db, actor, initiative_id=tour.id, key_result_id=completion.id, expected_impact=8
    )
    templates = await create_initiative(
        db,
        actor,
        team_id=platform.id,
        fields={
            "title": "Starter templates",
            "status": InitiativeStatus.PLANNED,
            "impact": 6,
            "confidence": 7,
            "ease": 8,
        },
    )
    await link_initiative(
        db,
        actor,
        initiative_id=templates.id,
        key_result_id=time_to_value.id,
        expected_impact=-600,  # minutes: the time falls
    )

    for weeks_ago, value, health in (
        (3, 70, Health.ON_TRACK),
        (2, 71.5, Health.ON_TRACK),
        (1, 72, Health.AT_RISK),
    ):
        await record_check_in(
            db,
            actor,
            clock=Clock(),
            key_result_id=completion.id,
            value=value,
            health=health,
            confidence=0.7,
            note="Weekly update",
            blockers=None,
            support_needed=None,
            checked_at=now - timedelta(weeks=weeks_ago),
        )
    await record_check_in(
        db,
        actor,
        clock=Clock(),
        key_result_id=time_to_value.id,
        value=900,
        health=Health.ON_TRACK,
        confidence=0.6,
        note="Templates prototype cut setup time",
        blockers=None,
        support_needed="Design review for the template gallery",
        checked_at=None,
    )
