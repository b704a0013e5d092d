from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.auth.access import authorize_team
from okr_service.cycles.service import ensure_key_result_cycle_open
from okr_service.events import service as events
from okr_service.events.catalog import EventType
from okr_service.initiatives import repository
from okr_service.initiatives.models import Initiative, InitiativeKeyResult
from okr_service.kit.errors import DomainError, ErrorCode
from okr_service.kit.numbers import to_decimal
from okr_service.kit.principal import Principal, Scope
from okr_service.kit.repository import get_owned
from okr_service.kit.validation import Problems
from okr_service.okr import arithmetic
from okr_service.teams.models import Team

TYPE_NAME = "Initiative"
STATUS_EVENTS = {"status": EventType.INITIATIVE_STATUS_CHANGED}
ICE_FIELDS = ("impact", "confidence", "ease")
# Bounds that keep the lists of links short: the key results one initiative moves
# (`Initiative.keyResultLinks`), and the initiatives the key results of one objective are
# tied to (`Objective.initiatives`, and so each key result's `initiativeLinks`).
MAX_KEY_RESULTS_PER_INITIATIVE = 20
MAX_INITIATIVES_PER_OBJECTIVE = 50


def check_fields(problems: Problems, fields: dict[str, Any]) -> None:
    """Validate the fields present in `fields`, replacing each text by the value to store."""
    if "title" in fields:
        fields["title"] = problems.name("title", fields["title"])
    if "description" in fields:
        fields["description"] = problems.text("description", fields["description"])
    problems.moment("shippedAt", fields.get("shipped_at"))
    for field in ICE_FIELDS:
        problems.in_range(field, fields.get(field), 1, 10)
    if "external_system" in fields:  # externalRef: set together
        check_external_ref(problems, fields)


def check_external_ref(problems: Problems, fields: dict[str, Any]) -> None:
    # Paths into the nested input, as the schema spells them.
    fields["external_system"] = problems.name(
        ("externalRef", "system"), fields["external_system"], required=False, max_length=40
    )
    fields["external_key"] = problems.name(
        ("externalRef", "key"), fields["external_key"], required=False
    )
    url = fields["external_url"] = problems.text(
        ("externalRef", "url"), fields["external_url"], max_length=2000
    )
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.add(("externalRef", "url"), "Must be an http(s) URL.", ErrorCode.INVALID_VALUE)


async def create_initiative(
    db: AsyncSession, actor: Principal, *, team_id: UUID, fields: dict[str, Any]
) -> Initiative:
    actor.require(Scope.WRITE)
    problems = Problems()
    check_fields(problems, fields)
    problems.raise_if_any()
    await get_owned(db, Team, actor.organization_id, team_id, field="teamId")
    await authorize_team(db, actor, team_id)
    initiative = Initiative(organization_id=actor.organization_id, team_id=team_id, **fields)
    db.add(initiative)
    await db.flush()
    await events.record_created(db, actor, initiative, EventType.INITIATIVE_CREATED)
    return initiative


async def update_initiative(
    db: AsyncSession, actor: Principal, initiative_id: UUID, changes: dict[str, Any]
) -> Initiative:
    actor.require(Scope.WRITE)
    problems = Problems()
    check_fields(problems, changes)
    problems.raise_if_any()
    initiative = await get_owned(
        db, Initiative, actor.organization_id, initiative_id, field="id", for_update=True
    )
    if changes.get("team_id") is not None:
        await get_owned(db, Team, actor.organization_id, changes["team_id"], field="teamId")
    await authorize_team(db, actor, initiative.team_id)
    if changes.get("team_id") is not None:
        await authorize_team(db, actor, changes["team_id"])
    await events.apply_update(
        db, actor, initiative, EventType.INITIATIVE_UPDATED, changes, status_fields=STATUS_EVENTS
    )
    return initiative


async def link_initiative(
    db: AsyncSession,
    actor: Principal,
    *,
    initiative_id: UUID,
    key_result_id: UUID,
    expected_impact: float | None,
) -> tuple[InitiativeKeyResult, Initiative]:
    """Link an initiative to a key result, or change the expected impact of the link."""
    actor.require(Scope.WRITE)
    problems = Problems()
    problems.finite("expectedImpact", expected_impact)
    problems.raise_if_any()
    initiative = await get_owned(
        db, Initiative, actor.organization_id, initiative_id, field="initiativeId", for_update=True
    )
    # A link is a bet on the key result: none is placed on (or taken off) a closed cycle's.
    await ensure_key_result_cycle_open(db, actor.organization_id, key_result_id, "keyResultId")
    await authorize_team(db, actor, initiative.team_id)
    link = await repository.find_link(db, actor.organization_id, initiative_id, key_result_id)
    if link is None:
        await check_limits(db, actor.organization_id, initiative_id, key_result_id)
        link = InitiativeKeyResult(
            organization_id=actor.organization_id,
            initiative_id=initiative_id,
            key_result_id=key_result_id,
        )
        db.add(link)
    link.expected_impact = to_decimal(expected_impact)
    await db.flush()
    await events.record(
        db,
        actor,
        EventType.INITIATIVE_LINKED,
        initiative,
        changes={"keyResultLinks": {"from": None, "to": events.snapshot(link, "InitiativeLink")}},
    )
    return link, initiative


async def check_limits(
    db: AsyncSession, organization_id: UUID, initiative_id: UUID, key_result_id: UUID
) -> None:
    """Refuse a new link past either bound. The initiative is locked already (its links
    cannot change meanwhile); locking the key result's objective does the same for the
    links of its key results, so two concurrent links cannot both take the last place."""
    if await repository.count_links_of(db, organization_id, initiative_id) >= (
        MAX_KEY_RESULTS_PER_INITIATIVE
    ):
        raise DomainError.single(
            "initiativeId",
            f"An initiative moves at most {MAX_KEY_RESULTS_PER_INITIATIVE} key results.",
            ErrorCode.LIMIT_REACHED,
        )
    await repository.lock_objective_of(db, organization_id, key_result_id)
    count, linked = await repository.initiatives_of_objective(
        db, organization_id, key_result_id, initiative_id
    )
    if count >= MAX_INITIATIVES_PER_OBJECTIVE and not linked:
        raise DomainError.single(
            "keyResultId",
            f"The key results of one objective are tied to at most "
            f"{MAX_INITIATIVES_PER_OBJECTIVE} initiatives.",
            ErrorCode.LIMIT_REACHED,
        )


async def unlink_initiative(
    db: AsyncSession, actor: Principal, *, initiative_id: UUID, key_result_id: UUID
) -> Initiative:
    actor.require(Scope.WRITE)
    initiative = await get_owned(
        db, Initiative, actor.organization_id, initiative_id, field="initiativeId", for_update=True
    )
    link = await repository.find_link(db, actor.organization_id, initiative_id, key_result_id)
    if link is None:
        raise DomainError.single(
            "keyResultId", "This initiative is not linked to that key result.", ErrorCode.NOT_FOUND
        )
    await ensure_key_result_cycle_open(db, actor.organization_id, key_result_id, "keyResultId")
    await authorize_team(db, actor, initiative.team_id)
    await events.delete(db, actor, link)  # told as `initiative.unlinked` (the catalog)
    return initiative


# Reads the GraphQL layer asks for: pages, and batches behind its loaders.
list_initiatives = repository.list_initiatives
links_of = repository.links_of


def ice_score(initiative: Any) -> int | None:
    """The initiative's ICE score (see `okr_service.okr.arithmetic.ice_score`)."""
    return arithmetic.ice_score(initiative.impact, initiative.confidence, initiative.ease)
