"""Who may write what, checked by the domain services (not only by resolvers).

- viewer: reads only (`Scope.READ`).
- editor: writes the OKRs (objectives, key results, check-ins, initiatives, alignment) of
  its teams and of every team below them. An API key with the `write` scope is an editor
  over every team.
- admin: everything, including the organization's structure (teams, cycles, closing a
  cycle), webhooks and API keys.

Structure writes need a principal whose reach is the whole organization: an admin, or a
`write` API key (service integrations such as an HR sync keep managing teams and cycles).
A team-scoped editor (a signed-in user) is refused them.

Every check runs after the object was found in the caller's organization, so another
tenant's IDs still answer NOT_FOUND, and before anything is written.
"""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.kit.errors import DomainError, ErrorCode
from okr_service.kit.principal import Principal, Scope
from okr_service.kit.repository import any_ancestor_or_self
from okr_service.teams.models import Team

OUTSIDE_TEAMS = "You can only change OKRs of your teams and the teams below them."
STRUCTURE = "Only admins change the organization's teams and cycles."


async def authorize_team(
    db: AsyncSession, actor: Principal, team_id: UUID, *alternatives: UUID | None
) -> None:
    """Allow a write concerning `team_id` (or any of `alternatives`), else FORBIDDEN.

    Free for organization-wide principals and for the caller's own teams; a subteam costs
    one recursive statement walking up from the team(s) to the caller's teams.
    """
    actor.require(Scope.WRITE)
    if actor.team_ids is None:
        return
    teams = {team_id, *(team for team in alternatives if team is not None)}
    if actor.team_ids & teams:
        return
    if actor.team_ids and await any_ancestor_or_self(
        db, Team, actor.organization_id, actor.team_ids, teams
    ):
        return
    raise DomainError.single(None, OUTSIDE_TEAMS, ErrorCode.FORBIDDEN)


async def authorize_key_result(
    db: AsyncSession, actor: Principal, team_id: UUID, objective_team_id: UUID
) -> None:
    """A write on a key result (or a check-in on it): its own team or its objective's."""
    await authorize_team(db, actor, team_id, objective_team_id)


def authorize_structure(actor: Principal) -> None:
    """Teams and cycles are the organization's structure: organization-wide writers only."""
    actor.require(Scope.WRITE)
    if not actor.organization_wide:
        raise DomainError.single(None, STRUCTURE, ErrorCode.FORBIDDEN)
