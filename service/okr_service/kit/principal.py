"""Who is calling: the identity and reach every domain checks, with no I/O of its own.

API keys (`okr_service.auth`) and user tokens both resolve to a `Principal`.
"""

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from okr_service.kit.errors import DomainError, ErrorCode


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class Role(StrEnum):
    """What a principal may do in its organization; each role grants the ones below it."""

    VIEWER = "viewer"  # read everything
    EDITOR = "editor"  # write the OKRs of its teams and of the teams below them
    ADMIN = "admin"  # everything: structure (teams, cycles), webhooks, API keys


# A scope grants the ones below it.
_IMPLIED = {
    Scope.READ: {Scope.READ},
    Scope.WRITE: {Scope.READ, Scope.WRITE},
    Scope.ADMIN: {Scope.READ, Scope.WRITE, Scope.ADMIN},
}
ROLE_SCOPE = {Role.VIEWER: Scope.READ, Role.EDITOR: Scope.WRITE, Role.ADMIN: Scope.ADMIN}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: always inside exactly one organization.

    `scopes` follow from the role (see `for_role`); API keys carry them directly.
    `team_ids` bounds where an editor writes: those teams and every team below them.
    None means the whole organization (admins, and API keys, whose `write` scope is an
    editor over every team).
    """

    organization_id: UUID
    scopes: frozenset[Scope]
    actor_id: UUID | str
    actor_name: str
    actor_type: str = "api_key"
    team_ids: frozenset[UUID] | None = None

    @classmethod
    def for_role(
        cls,
        role: Role,
        *,
        organization_id: UUID,
        actor_id: UUID | str,
        actor_name: str,
        actor_type: str,
        team_ids: frozenset[UUID] | None,
    ) -> "Principal":
        return cls(
            organization_id=organization_id,
            scopes=frozenset(_IMPLIED[ROLE_SCOPE[role]]),
            actor_id=actor_id,
            actor_name=actor_name,
            actor_type=actor_type,
            team_ids=None if role is Role.ADMIN else team_ids,
        )

    @property
    def role(self) -> Role:
        if Scope.ADMIN in self.scopes:
            return Role.ADMIN
        return Role.EDITOR if Scope.WRITE in self.scopes else Role.VIEWER

    @property
    def organization_wide(self) -> bool:
        """Whether its writes reach every team (not only some teams' subtrees)."""
        return self.team_ids is None

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes:
            raise DomainError.single(
                None, f"This operation needs the '{scope}' scope.", ErrorCode.FORBIDDEN
            )

    def as_actor(self) -> dict[str, str]:
        return {"type": self.actor_type, "id": str(self.actor_id), "name": self.actor_name}


def effective_scopes(scopes: list[str]) -> frozenset[Scope]:
    granted: set[Scope] = set()
    for scope in scopes:
        granted |= _IMPLIED[Scope(scope)]
    return frozenset(granted)
