from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.auth.access import authorize_structure
from okr_service.events import service as events
from okr_service.events.catalog import EventType
from okr_service.kit.errors import ErrorCode
from okr_service.kit.principal import Principal
from okr_service.kit.repository import get_owned, is_ancestor_or_self, lock_organization
from okr_service.kit.validation import Problems
from okr_service.teams import repository
from okr_service.teams.models import Team

TYPE_NAME = "Team"


async def create_team(
    db: AsyncSession, actor: Principal, *, name: str, parent_id: UUID | None
) -> Team:
    authorize_structure(actor)
    problems = Problems()
    name = problems.name("name", name) or ""
    problems.raise_if_any()
    if parent_id is not None:
        await get_owned(db, Team, actor.organization_id, parent_id, field="parentId")
    team = Team(organization_id=actor.organization_id, name=name, parent_id=parent_id)
    db.add(team)
    await db.flush()
    await events.record_created(db, actor, team, EventType.TEAM_CREATED)
    return team


async def update_team(
    db: AsyncSession, actor: Principal, team_id: UUID, changes: dict[str, Any]
) -> Team:
    authorize_structure(actor)
    problems = Problems()
    if "name" in changes:
        changes["name"] = problems.name("name", changes["name"])
    problems.raise_if_any()
    team = await get_owned(db, Team, actor.organization_id, team_id, field="id", for_update=True)
    parent_id = changes.get("parent_id")
    if parent_id is not None:
        await lock_organization(db, actor.organization_id, "teams")  # moves take turns
        await get_owned(db, Team, actor.organization_id, parent_id, field="parentId")
        if await is_ancestor_or_self(db, Team, actor.organization_id, team.id, parent_id):
            problems.add("parentId", "A team cannot sit below itself.", ErrorCode.SELF_REFERENCE)
            problems.raise_if_any()
    await events.apply_update(db, actor, team, EventType.TEAM_UPDATED, changes)
    return team


# Reads the GraphQL layer asks for: pages, and batches behind its loaders.
list_teams = repository.list_teams
children = repository.children
objectives_of_teams = repository.objectives_of_teams
CHILDREN = repository.CHILDREN
OBJECTIVES = repository.OBJECTIVES
