"""Managing integrations (admins only), secrets and their rotation, the status mapping and
its defaults per provider, team scope, and the delivery log's retention."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from okr_service.integrations import service as integrations
from okr_service.kit.db import transaction
from okr_service.kit.principal import Scope
from tests import factories
from tests.conftest import Api, new_organization
from tests.integrations.conftest import (
    create_integration,
    delivery_log,
    initiative_state,
    linked_initiative,
    send,
)
from tests.integrations.payloads import (
    TOOLS,
    Tool,
    at,
    github_delivery,
    github_issue,
    github_milestone,
    jira_delivery,
    jira_issue,
    linear_delivery,
    linear_project,
)


async def test_only_admins_manage_integrations(app: FastAPI, http: httpx.AsyncClient) -> None:
    organization_id, key = await new_organization(app, [Scope.WRITE])
    writer = Api(http, organization_id, key)

    payload = await writer.mutate(
        "createIntegration", {"provider": "JIRA", "name": "Jira"}, "integration { id } secret"
    )
    assert payload["integration"] is None
    assert payload["secret"] is None
    assert [error["code"] for error in payload["userErrors"]] == ["FORBIDDEN"]
    errors = await writer.errors("{ integrations { edges { node { id } } } }")
    assert "admin" in errors[0]["message"]


async def test_the_secret_is_shown_once_and_rotates_with_a_grace_period(
    api: Api, http: httpx.AsyncClient
) -> None:
    initiative = await linked_initiative(api, "jira", "ONB-42")
    integration = await create_integration(api, "jira")
    old = integration["secret"]
    assert old.startswith("okrin_")
    assert integration["receivePath"].startswith("/integrations/jira/")
    listed = await api.query("{ integrations { edges { node { id name provider } } } }")
    assert listed["integrations"]["edges"] == [
        {"node": {"id": integration["id"], "name": "jira roadmap", "provider": "JIRA"}}
    ]

    rotated = await api.mutate(
        "rotateIntegrationSecret",
        {"id": integration["id"], "gracePeriodSeconds": 3600},
        "integration { previousSecretExpiresAt } secret",
    )
    new = rotated["secret"]
    assert new != old
    assert rotated["integration"]["previousSecretExpiresAt"] is not None
    by_old = jira_delivery(old, jira_issue("ONB-42", "in_progress", at(9)))
    by_new = jira_delivery(new, jira_issue("ONB-42", "done", at(10)))
    assert (await send(http, integration, by_old)).status_code == 200
    assert (await send(http, integration, by_new)).status_code == 200

    await api.mutate(
        "rotateIntegrationSecret", {"id": integration["id"], "gracePeriodSeconds": 0}, "secret"
    )
    refused = await send(
        http, integration, jira_delivery(new, jira_issue("ONB-42", "done", at(11)))
    )
    assert refused.status_code == 401  # the grace of `new` ended at once
    assert await initiative_state(api, initiative) == {"status": "DONE", "version": 3}


async def test_a_provider_made_secret_is_taken_as_given(api: Api, http: httpx.AsyncClient) -> None:
    """Linear shows a secret of its own: the admin pastes it into okr-service instead."""
    await linked_initiative(api, "linear", "3b1e5c2a-project")
    short = await api.mutate(
        "createIntegration",
        {"provider": "LINEAR", "name": "Linear", "signingSecret": "short"},
        "integration { id }",
    )
    assert [error["field"] for error in short["userErrors"]] == [["signingSecret"]]
    integration = await create_integration(
        api, "linear", signingSecret="lin_wh_7Hc9dQ2mZbX4pL1vR8tN3sK6yF0aE5gJ"
    )
    assert integration["secret"] == "lin_wh_7Hc9dQ2mZbX4pL1vR8tN3sK6yF0aE5gJ"

    delivery = linear_delivery(
        integration["secret"], linear_project("3b1e5c2a-project", "completed", at(9))
    )
    response = await send(http, integration, delivery)

    assert response.json()["outcome"] == "applied"


@pytest.mark.parametrize(
    ("provider", "delivery_of", "key", "expected"),
    [
        (
            "linear",
            lambda s: linear_delivery(s, linear_project("p-1", "paused", at(9))),
            "p-1",
            "PARKED",
        ),
        (
            "linear",
            lambda s: linear_delivery(s, linear_project("p-2", "canceled", at(9))),
            "3f2a1b9c",  # the project's slug id
            "CANCELLED",
        ),
        (
            "jira",
            lambda s: jira_delivery(s, jira_issue("ONB-7", "done", at(9), resolution="Won't Do")),
            "ONB-7",
            "CANCELLED",
        ),
        (
            "jira",
            lambda s: jira_delivery(s, jira_issue("ONB-8", "in_progress", at(9))),
            "onb-8",
            "IN_PROGRESS",
        ),
        (
            "github",
            lambda s: github_delivery(
                s, github_milestone("acme/app", 3, "closed", at(9)), event="milestone"
            ),
            "acme/app/milestone/3",
            "DONE",
        ),
        (
            "github",
            lambda s: github_delivery(s, not_planned(github_issue("acme/app", 9, "done", at(9)))),
            "acme/app#9",
            "CANCELLED",
        ),
    ],
)
async def test_default_mappings(
    provider: str, delivery_of: object, key: str, expected: str, api: Api, http: httpx.AsyncClient
) -> None:
    initiative = await linked_initiative(api, provider, key)
    integration = await create_integration(api, provider)

    response = await send(http, integration, delivery_of(integration["secret"]))  # type: ignore[operator]

    assert response.json()["outcome"] == "applied", response.json()
    assert (await initiative_state(api, initiative))["status"] == expected


def not_planned(payload: dict[str, object]) -> dict[str, object]:
    payload["issue"]["state_reason"] = "not_planned"  # type: ignore[index]
    return payload


async def test_a_custom_mapping_overrides_and_null_leaves_alone(
    api: Api, http: httpx.AsyncClient
) -> None:
    initiative = await linked_initiative(api, "jira", "ONB-42")
    mapping = {"In Review": "PLANNED", "indeterminate": None}
    integration = await create_integration(api, "jira", statusMapping=mapping)
    assert integration["statusMapping"] == {"in review": "PLANNED", "indeterminate": None}
    assert integration["effectiveStatusMapping"]["done"] == "DONE"
    assert integration["effectiveStatusMapping"]["indeterminate"] is None
    secret = integration["secret"]

    review = jira_issue("ONB-42", "in_progress", at(9), status_name="In Review")
    assert (await send(http, integration, jira_delivery(secret, review))).status_code == 200
    assert (await initiative_state(api, initiative))["status"] == "PLANNED"
    await api.ok("updateInitiative", {"id": initiative, "status": "PARKED"})
    left = await send(
        http, integration, jira_delivery(secret, jira_issue("ONB-42", "in_progress", at(10)))
    )
    assert left.json()["reason"] == "LEFT_ALONE"
    assert (await initiative_state(api, initiative))["status"] == "PARKED"

    undefined = jira_issue("ONB-42", "in_progress", at(11), status_name="Limbo")
    undefined["issue"]["fields"]["status"]["statusCategory"]["key"] = "undefined"
    unmapped = await send(http, integration, jira_delivery(secret, undefined))
    assert (unmapped.status_code, unmapped.json()["reason"]) == (202, "UNMAPPED_STATE")


async def test_a_bad_mapping_is_refused(api: Api) -> None:
    payload = await api.mutate(
        "createIntegration",
        {"provider": "GITHUB", "name": "GitHub", "statusMapping": {"open": "SHIPPED", " ": "DONE"}},
        "integration { id }",
    )
    assert payload["integration"] is None
    assert sorted(error["code"] for error in payload["userErrors"]) == [
        "INVALID_VALUE",
        "INVALID_VALUE",
    ]
    listed = await api.mutate(
        "createIntegration",
        {"provider": "GITHUB", "name": "GitHub", "statusMapping": ["open"]},
        "integration { id }",
    )
    assert [error["field"] for error in listed["userErrors"]] == [["statusMapping"]]


async def test_a_team_scoped_integration_moves_only_its_teams_initiatives(
    api: Api, http: httpx.AsyncClient
) -> None:
    team = await factories.team(api, "Onboarding")
    squad = await factories.team(api, "Tours", parent_id=team)
    elsewhere = await factories.team(api, "Billing")
    inside = await linked_initiative(api, "github", "acme/app#1", squad)
    outside = await linked_initiative(api, "github", "acme/app#1", elsewhere)
    integration = await create_integration(api, "github", teamId=team)
    assert integration["team"] == {"id": team}

    delivery = Tool("github", "acme/app#1").change(integration["secret"], "done", at(9))
    response = await send(http, integration, delivery)

    assert response.json()["outcome"] == "applied"
    assert (await initiative_state(api, inside))["status"] == "DONE"
    assert (await initiative_state(api, outside))["status"] == "PLANNED"
    [logged] = await delivery_log(api, integration["id"])
    assert logged["initiatives"] == [{"id": inside, "status": "DONE"}]


async def test_a_github_ping_is_answered_and_changes_nothing(
    api: Api, http: httpx.AsyncClient
) -> None:
    integration = await create_integration(api, "github")
    ping = {"zen": "Keep it logically awesome.", "hook_id": 1, "hook": {"type": "Repository"}}

    response = await send(http, integration, github_delivery(integration["secret"], ping, "ping"))

    assert (response.status_code, response.json()["reason"]) == (200, "PING")


async def test_deleting_an_integration_closes_its_url(api: Api, http: httpx.AsyncClient) -> None:
    integration = await create_integration(api, "github")
    await api.mutate("deleteIntegration", {"id": integration["id"]}, "integration { id }")

    delivery = TOOLS["github"].change(integration["secret"], "done", at(9))
    assert (await send(http, integration, delivery)).status_code == 404


async def test_old_deliveries_are_pruned(app: FastAPI, api: Api, http: httpx.AsyncClient) -> None:
    integration = await create_integration(api, "github")
    await send(http, integration, TOOLS["github"].change(integration["secret"], "done", at(9)))
    assert len(await delivery_log(api, integration["id"])) == 1

    async with transaction(app.state.sessionmaker) as db:
        kept = await integrations.prune_deliveries(db, datetime.now(UTC) - timedelta(days=1))
    assert len(await delivery_log(api, integration["id"])) == 1
    async with transaction(app.state.sessionmaker) as db:
        pruned = await integrations.prune_deliveries(db, datetime.now(UTC) + timedelta(seconds=1))

    assert kept == 0
    assert pruned >= 1
    assert await delivery_log(api, integration["id"]) == []
