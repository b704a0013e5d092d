"""Which endpoints an event is owed to, what fan-out costs, and the housekeeping."""

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import select, update

from okr_service.kit.db import transaction
from okr_service.webhooks import repository
from okr_service.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests import factories
from tests.conftest import Api, StatementCounter
from tests.webhooks.conftest import (
    Receiver,
    Reply,
    StartWorker,
    create_endpoint,
    deliveries,
    endpoint,
    eventually,
    ok,
    uuid_of,
)


async def delivered_types(api: Api, endpoint_id: str) -> list[str]:
    return sorted(row["event"]["type"] for row in await deliveries(api, endpoint_id))


async def test_endpoints_get_the_event_types_and_teams_they_subscribed_to(api: Api) -> None:
    ours, theirs = await factories.team(api, "Ours"), await factories.team(api, "Theirs")
    by_type, _ = await create_endpoint(
        api, "http://127.0.0.1:9/a", eventTypes=["initiative.status_changed"]
    )
    by_team, _ = await create_endpoint(api, "http://127.0.0.1:9/b", teamIds=[ours])
    everything, _ = await create_endpoint(api, "http://127.0.0.1:9/c")
    await factories.cycle(api)
    mine = await factories.initiative(api, ours)
    other = await factories.initiative(api, theirs)
    for initiative in (mine, other):
        await api.ok("updateInitiative", {"id": initiative, "status": "DONE"})

    assert await delivered_types(api, by_type) == ["initiative.status_changed"] * 2
    assert await delivered_types(api, by_team) == [
        "cycle.created",  # no team: the team filter does not apply
        "initiative.created",
        "initiative.status_changed",
        "initiative.updated",
    ]
    assert len(await delivered_types(api, everything)) == 7  # the cycle, 2 x 3 initiative


async def test_an_alignment_link_belongs_to_its_source_objectives_team(api: Api) -> None:
    ours, theirs = await factories.team(api, "Ours"), await factories.team(api, "Theirs")
    cycle = await factories.cycle(api)
    child = await factories.objective(api, ours, cycle, "Ours")
    parent = await factories.objective(api, theirs, cycle, "Company")
    by_team, _ = await create_endpoint(
        api, "http://127.0.0.1:9/a", teamIds=[ours], eventTypes=["alignment.created"]
    )
    by_other, _ = await create_endpoint(
        api, "http://127.0.0.1:9/a", teamIds=[theirs], eventTypes=["alignment.created"]
    )
    await api.ok(
        "createAlignment",
        {"sourceObjectiveId": child, "targetObjectiveId": parent, "kind": "CONTRIBUTES_TO"},
    )
    assert await delivered_types(api, by_team) == ["alignment.created"]
    assert await delivered_types(api, by_other) == []


async def test_an_organization_without_endpoints_pays_no_extra_statement(
    api: Api, sql_statements: StatementCounter
) -> None:
    ids = await factories.okr(api)
    before = sql_statements.count
    await api.ok("updateObjective", {"id": ids["objective"], "state": "ACTIVE"})
    statements = sql_statements.statements[before:]
    # The database fans each event out inside its INSERT: no statement of its own.
    assert [s for s in statements if "webhook" in s] == []
    event_inserts = [s for s in statements if s.lstrip().startswith("INSERT INTO events")]
    assert len(event_inserts) == 2  # objective.updated and .state_changed


async def test_other_organizations_endpoints_get_nothing(api: Api, other_api: Api) -> None:
    theirs, _ = await create_endpoint(other_api, "http://127.0.0.1:9/a")
    await factories.okr(api)
    assert await deliveries(other_api, theirs) == []


async def test_subscriptions_are_validated(api: Api, other_api: Api) -> None:
    foreign_team = await factories.team(other_api)
    payload = await api.mutate(
        "createWebhookEndpoint",
        {
            "url": "http://127.0.0.1:9/",
            "eventTypes": ["objective.exploded"],
            "teamIds": [foreign_team],
        },
        "webhookEndpoint { id }",
    )
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["eventTypes", "0"], "INVALID_VALUE"),
    ]
    payload = await api.mutate(
        "createWebhookEndpoint",
        {"url": "http://127.0.0.1:9/", "teamIds": [foreign_team]},
        "webhookEndpoint { id }",
    )
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["teamIds", "0"], "NOT_FOUND"),
    ]
    endpoint_id, _ = await create_endpoint(api, "http://127.0.0.1:9/")
    updated = await ok(
        api,
        "updateWebhookEndpoint",
        {"id": endpoint_id, "description": "Roadmap sync", "eventTypes": ["cycle.state_changed"]},
        "webhookEndpoint { description eventTypes url }",
    )
    assert updated["webhookEndpoint"] == {
        "description": "Roadmap sync",
        "eventTypes": ["cycle.state_changed"],
        "url": "http://127.0.0.1:9/",
    }
    errors = (
        await api.mutate(
            "updateWebhookEndpoint",
            {"id": endpoint_id, "eventTypes": None},
            "webhookEndpoint { id }",
        )
    )["userErrors"]
    assert [e["code"] for e in errors] == ["REQUIRED"]
    foreign = await api.mutate(
        "deleteWebhookEndpoint",
        {"id": (await create_endpoint(other_api, "http://127.0.0.1:9/"))[0]},
        "webhookEndpoint { id }",
    )
    assert [e["code"] for e in foreign["userErrors"]] == ["NOT_FOUND"]


async def test_an_endpoint_failing_for_days_is_disabled(
    api: Api, app: FastAPI, receiver: Receiver, start_worker: StartWorker
) -> None:
    endpoint_id, _ = await create_endpoint(api, receiver.url)
    async with transaction(app.state.sessionmaker) as db:
        await db.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == uuid_of(endpoint_id))
            .values(failing_since=datetime.now(UTC) - timedelta(days=5, minutes=1))
        )
    await start_worker()
    receiver.always = Reply(500)
    await ok(api, "sendTestWebhook", {"endpointId": endpoint_id}, "event { id }")
    state = await eventually(lambda: endpoint(api, endpoint_id), lambda e: not e["enabled"])
    assert state["disabledReason"].startswith("Failing continuously since")


async def test_a_success_ends_the_run_of_failures(
    api: Api, app: FastAPI, receiver: Receiver, start_worker: StartWorker
) -> None:
    endpoint_id, _ = await create_endpoint(api, receiver.url)
    async with transaction(app.state.sessionmaker) as db:
        await db.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == uuid_of(endpoint_id))
            .values(failing_since=datetime.now(UTC) - timedelta(days=1))
        )
    await start_worker()
    await ok(api, "sendTestWebhook", {"endpointId": endpoint_id}, "event { id }")
    await eventually(lambda: endpoint(api, endpoint_id), lambda e: e["failingSince"] is None)


async def test_finished_deliveries_are_pruned_after_the_retention_period(
    api: Api, app: FastAPI
) -> None:
    endpoint_id, _ = await create_endpoint(api, "http://127.0.0.1:9/")
    for _ in range(3):
        await ok(api, "sendTestWebhook", {"endpointId": endpoint_id}, "event { id }")
    old, finished, outstanding = [uuid_of(row["id"]) for row in await deliveries(api, endpoint_id)]
    long_ago = datetime.now(UTC) - timedelta(days=31)
    async with transaction(app.state.sessionmaker) as db:
        for delivery_id, status, touched in (
            (old, DeliveryStatus.DELIVERED, long_ago),
            (finished, DeliveryStatus.DEAD, datetime.now(UTC)),
            (outstanding, DeliveryStatus.FAILED, long_ago),
        ):
            await db.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .values(status=status, updated_at=touched)
            )
    async with transaction(app.state.sessionmaker) as db:
        assert await repository.prune_finished(db, datetime.now(UTC) - timedelta(days=30)) >= 1
        remaining = await db.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.endpoint_id == uuid_of(endpoint_id))
            .order_by(WebhookDelivery.id)
        )
        assert list(remaining) == [finished, outstanding]


async def test_a_team_and_a_shared_key_result_belong_to_their_own_teams(api: Api) -> None:
    ours, theirs = await factories.team(api, "Ours"), await factories.team(api, "Theirs")
    by_team, _ = await create_endpoint(api, "http://127.0.0.1:9/a", teamIds=[ours])
    await api.ok("updateTeam", {"id": ours, "name": "Ours, renamed"})
    await api.ok("updateTeam", {"id": theirs, "name": "Theirs, renamed"})
    cycle = await factories.cycle(api)
    objective = await factories.objective(api, theirs, cycle, "Theirs")
    await factories.key_result(api, objective, "Ours to move", teamId=ours)
    assert await delivered_types(api, by_team) == [
        "cycle.created",  # no team: the team filter does not apply
        "key_result.created",  # owned by ours, though the objective is theirs
        "team.updated",  # the team itself
    ]
