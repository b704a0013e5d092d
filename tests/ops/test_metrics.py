"""/metrics after a mix of requests and webhook deliveries, read by Prometheus's own text
parser: every family is there, with values that follow from what was done."""

import re
from collections.abc import Iterable
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from okr_service.cycles.sweep import HealthSweeper
from okr_service.kit.clock import Clock
from okr_service.kit.metrics import OperationNames
from tests import factories
from tests.conftest import Api
from tests.ops.conftest import AppWith
from tests.webhooks.conftest import (
    Receiver,
    Reply,
    StartWorker,
    create_endpoint,
    deliveries,
    eventually,
    finished,
)

FAMILIES = {
    "okr_http_requests": "counter",
    "okr_graphql_operation_duration_seconds": "histogram",
    "okr_errors": "counter",
    "okr_graphql_query_cost": "histogram",
    "okr_graphql_queries": "counter",
    "okr_rate_limited_requests": "counter",
    "okr_rate_limit_store_errors": "counter",
    "okr_idempotency_replays": "counter",
    "okr_db_pool_connections_in_use": "gauge",
    "okr_db_pool_checkouts_waiting": "gauge",
    "okr_db_pool_timeouts": "counter",
    "okr_db_transaction_duration_seconds": "histogram",
    "okr_webhook_deliveries": "counter",
    "okr_webhook_attempt_duration_seconds": "histogram",
    "okr_webhook_delivery_lag_seconds": "histogram",
    "okr_webhook_queue_depth": "gauge",
    "okr_webhook_queue_oldest_age_seconds": "gauge",
    "okr_health_sweep_duration_seconds": "histogram",
    "okr_health_sweep_changes": "counter",
}
UUID_LIKE = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
TEAMS = "{ teams(first: 5) { edges { node { id name } } } }"


@dataclass
class Scrape:
    types: dict[str, str]
    values: dict[tuple[str, frozenset[tuple[str, str]]], float]

    def value(self, name: str, **labels: str) -> float:
        """The sample's value (0 when absent, as Prometheus treats a series not yet seen)."""
        return self.values.get((name, frozenset(labels.items())), 0.0)

    def label_values(self) -> Iterable[str]:
        for _, labels in self.values:
            for _, value in labels:
                yield value


async def scrape(http: httpx.AsyncClient) -> Scrape:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    types: dict[str, str] = {}
    values: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(response.text):
        types[family.name] = family.type
        for sample in family.samples:
            values[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return Scrape(types, values)


async def test_a_scrape_after_requests_and_deliveries_shows_every_family(
    app: FastAPI,
    http: httpx.AsyncClient,
    api: Api,
    receiver: Receiver,
    start_worker: StartWorker,
    app_with: AppWith,
) -> None:
    before = await scrape(http)
    receiver.replies = [Reply(status=500)]  # the first attempt fails, the retry succeeds
    await start_worker()
    endpoint_id, _ = await create_endpoint(api, receiver.url, eventTypes=["team.created"])

    await factories.team(api, "Observed")  # a mutation; its event fails once, then arrives
    assert (await api.post("query MetricsProbe " + TEAMS)).json()["data"]["teams"]
    assert (await api.post(TEAMS)).json()["data"]["teams"]  # anonymous
    assert (await api.post("{ viewer { role } }")).json()["data"]  # not compiled
    invalid = (await api.post("query Broken { nothingHere }")).json()
    assert invalid["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    refused = await api.client.post("/graphql", json={"query": TEAMS})  # no key
    assert refused.status_code == 401
    create = "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } } }"
    once = {"Idempotency-Key": "metrics-replay"}
    first = await api.post(create, {"input": {"name": "Once"}}, headers_extra=once)
    replayed = await api.post(create, {"input": {"name": "Once"}}, headers_extra=once)
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == first.json()
    async with app_with(rate_limit_per_second=0.001, rate_limit_burst=1) as limited:
        assert (await limited.post(TEAMS)).status_code == 200
        assert (await limited.post(TEAMS)).status_code == 429
    await receiver.wait_for(3)  # two teams created: three attempts
    await eventually(lambda: deliveries(api, endpoint_id), finished)
    await HealthSweeper(app.state.sessionmaker, Clock(), 300).sweep_once()

    after = await scrape(http)

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    for family, kind in FAMILIES.items():
        assert after.types.get(family) == kind, family
    graphql_ok = {"route": "/graphql", "method": "POST", "status": "200"}
    assert delta("okr_http_requests_total", **graphql_ok) >= 8
    assert delta("okr_http_requests_total", **{**graphql_ok, "status": "401"}) == 1
    assert delta("okr_http_requests_total", **{**graphql_ok, "status": "429"}) == 1
    operation = "okr_graphql_operation_duration_seconds_count"
    assert delta(operation, operation_type="query", operation_name="MetricsProbe") == 1
    assert delta(operation, operation_type="query", operation_name="Broken") == 1
    assert delta(operation, operation_type="query", operation_name="anonymous") >= 2
    assert delta(operation, operation_type="mutation", operation_name="anonymous") >= 2
    assert delta("okr_errors_total", code="GRAPHQL_VALIDATION_FAILED") == 1
    assert delta("okr_errors_total", code="UNAUTHENTICATED") == 1
    assert delta("okr_errors_total", code="RATE_LIMITED") == 1
    assert delta("okr_rate_limited_requests_total", code="RATE_LIMITED") == 1
    assert delta("okr_idempotency_replays_total") == 1
    cost_count = delta("okr_graphql_query_cost_count")
    assert cost_count >= 4
    # MetricsProbe and the anonymous query cost 1 + 5 edges x (1 node): 11 each.
    assert delta("okr_graphql_query_cost_sum") >= 22
    # Queries by the path that answered: teams compiled (and, in verify mode, compared).
    assert delta("okr_graphql_queries_total", path="compiled") >= 2
    assert delta("okr_graphql_queries_total", path="resolvers") >= 1
    # Pool: every connection the requests took is back; none waiting, none timed out.
    for pool in ("api", "reads"):
        in_use = "okr_db_pool_connections_in_use"
        assert after.value(in_use, pool=pool) == before.value(in_use, pool=pool), pool
    assert after.value("okr_db_pool_connections_in_use", pool="api") == before.value(
        "okr_db_pool_connections_in_use", pool="api"
    )
    assert after.value("okr_db_pool_checkouts_waiting", pool="api") == 0
    assert delta("okr_db_pool_timeouts_total", pool="api") == 0
    committed = "okr_db_transaction_duration_seconds_count"
    assert delta(committed, pool="api", outcome="commit") >= 3
    assert delta(committed, pool="webhooks", outcome="commit") >= 2
    # Webhooks: the first team's attempt 1 failed (500) and attempt 2 arrived; the second
    # team's arrived at once; each within a minute of its commit. (At least: the counters
    # are the process's, and a worker of an earlier test may still be finishing.)
    assert delta("okr_webhook_deliveries_total", outcome="failed", attempt="1") >= 1
    assert delta("okr_webhook_deliveries_total", outcome="delivered", attempt="2") >= 1
    assert delta("okr_webhook_deliveries_total", outcome="delivered", attempt="1") >= 1
    assert delta("okr_webhook_attempt_duration_seconds_count") >= 3
    assert delta("okr_webhook_delivery_lag_seconds_bucket", le="60.0") >= 2
    assert delta("okr_webhook_delivery_lag_seconds_sum") > 0
    assert after.value("okr_webhook_queue_depth") >= 0
    assert after.value("okr_webhook_queue_oldest_age_seconds") >= 0
    assert delta("okr_health_sweep_duration_seconds_count") == 1
    assert delta("okr_health_sweep_changes_total") >= 0
    # No identifier ever becomes a label value.
    assert not [value for value in after.label_values() if UUID_LIKE.search(value)]


async def test_fresh_operation_names_beyond_the_cap_share_one_label(app_with: AppWith) -> None:
    async with app_with(metrics_max_operation_names=2) as api:
        for number in range(6):
            await api.post(f"query Flood{number} {TEAMS}")
        after = await scrape(api.client)
    flood = {
        dict(labels)["operation_name"]
        for (name, labels) in after.values
        if name == "okr_graphql_operation_duration_seconds_count"
        and dict(labels)["operation_name"].startswith("Flood")
    }
    # Two places, taken by the first two names (other apps of the run may have more).
    assert flood <= {"Flood0", "Flood1"}
    assert (
        after.value(
            "okr_graphql_operation_duration_seconds_count",
            operation_type="query",
            operation_name="other",
        )
        >= 4
    )


def test_operation_names_are_bounded_in_number_and_shape() -> None:
    names = OperationNames(capacity=2)
    assert names.label(None) == "anonymous"
    assert names.label("A") == "A"
    assert names.label("x" * 65) == "other"  # too long to be a name worth a series
    assert names.label("B") == "B"
    assert names.label("C") == "other"  # no place left
    assert names.label("A") == "A"  # known names keep theirs


async def test_metrics_can_be_kept_off_the_app(app_with: AppWith) -> None:
    async with app_with(metrics=False) as api:
        assert (await api.client.get("/metrics")).status_code == 404
