"""The ASGI application: GraphQL at /graphql, health probes, and the request's transaction."""

import contextlib
import functools
import gc
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

import orjson
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from okr_service import backends
from okr_service.auth.bearer import InvalidToken, looks_like_jwt
from okr_service.auth.revocations import RevocationListener
from okr_service.auth.service import PrincipalCache, authenticate
from okr_service.cycles.sweep import HealthSweeper
from okr_service.graphql.context import Context
from okr_service.graphql.extensions import mask_escaped_errors
from okr_service.graphql.federation import federated_schema
from okr_service.graphql.http import SpecGraphQLRouter
from okr_service.graphql.ide import ASSETS_PATH, OfflineGraphiQL
from okr_service.graphql.limits import Limits
from okr_service.graphql.observe import note_result
from okr_service.graphql.reads import caller_of, is_read_only
from okr_service.graphql.schema import schema
from okr_service.graphql.subscriptions.context import SubscriptionContext, SubscriptionSlots
from okr_service.graphql.subscriptions.feed import SubscriptionFeeds
from okr_service.idempotency import service as idempotency
from okr_service.inbound import install as install_integration_route
from okr_service.kit import metrics
from okr_service.kit.backpressure import BodyReadDeadline, InFlightLimit
from okr_service.kit.clock import Clock
from okr_service.kit.cors import CORSMiddleware, cors_options
from okr_service.kit.db import (
    TenantSessions,
    create_engine,
    create_sessionmaker,
    enter_tenant,
    on_a_live_connection,
)
from okr_service.kit.errors import Unauthenticated
from okr_service.kit.json_input import InputTooDeep
from okr_service.kit.observe import Observe, record_of
from okr_service.kit.openapi import documented
from okr_service.kit.outage import (
    DATABASE_ERRORS,
    DatabaseUnavailable,
    database_error_response,
    is_database_unavailable,
)
from okr_service.kit.principal import Principal
from okr_service.kit.problems import graphql_error_response
from okr_service.kit.ratelimit import BodySizeLimit, RateLimit, mark_authenticated
from okr_service.kit.replica import CONNECT_TIMEOUT_SECONDS as REPLICA_CONNECT_TIMEOUT_SECONDS
from okr_service.kit.replica import (
    CONSISTENCY_HEADER,
    InvalidConsistencyToken,
    ReadReplica,
    Route,
    parse_lsn,
)
from okr_service.kit.settings import Settings, get_settings
from okr_service.kit.startup import resolve_database_url
from okr_service.kit.tracing import trace_sql, tracer_of
from okr_service.webhooks.openapi import document_webhooks
from okr_service.webhooks.worker import DeliveryWorker

if TYPE_CHECKING:  # loaded only when configured (okr_service/backends.py)
    from opentelemetry.sdk.trace import TracerProvider

    from okr_service.auth.tokens import TokenVerifier

logger = logging.getLogger(__name__)


class Unauthorized(Exception):
    """Answered as 401 with a JSON body, before any GraphQL runs."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send an API key or a user token as 'Authorization: Bearer <...>'.")
    return token.strip()


def is_graphiql_page(request: Request) -> bool:
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and "query" not in request.query_params  # a query over GET runs: it needs a key
    )


async def graphql_context(
    connection: HTTPConnection,
) -> AsyncIterator[Context | SubscriptionContext | None]:
    """One session per request; the key is checked in the request's own transaction. A
    WebSocket holds no session: it authenticates in `connection_init` (subscriptions)."""
    if isinstance(connection, WebSocket):
        yield subscription_context(connection)
        return
    request = cast(Request, connection)
    if is_graphiql_page(request):
        yield None  # the IDE's page runs nothing; its queries come back with a key
        return
    token = bearer_token(request)
    # The whole body first (already in memory: BodyReadDeadline), then the connection: it
    # is held for the work, never while a client is still uploading.
    await request.body()
    consistency_token = consistency_token_of(request)
    replica: ReadReplica | None = request.app.state.read_replica
    caller = caller_of(token) if replica is not None else ""
    route = await read_route(request, replica, caller, consistency_token)
    async with contextlib.AsyncExitStack() as sessions:
        db, principal = await open_session(request, token, route, sessions)
        if record := record_of(request.scope):
            record.organization = str(principal.organization_id)
        context = Context(
            db, principal, settings=request.app.state.settings, clock=request.app.state.clock
        )
        if replica is not None:
            context.after_write = functools.partial(replica.wrote, caller)
        context.idempotency_key = await replay_or_claim(request, db, principal)
        yield context


def consistency_token_of(request: Request) -> int | None:
    """The `Consistency-Token` a client echoes from its last write's response, if any;
    InvalidConsistencyToken (400) for anything that is not one."""
    value = request.headers.get(CONSISTENCY_HEADER)
    return None if value is None else parse_lsn(value)


async def read_route(
    request: Request, replica: ReadReplica | None, caller: str, token: int | None
) -> Route | None:
    """Where a read-only request goes; None for anything that writes (and without a
    replica): the primary."""
    if replica is None:
        return None
    if await is_plain_read(request):
        return replica.route(caller, token)
    limits: Limits = request.app.state.limits
    if "idempotency-key" in request.headers and await is_read_only(request, limits.max_tokens):
        return Route.IDEMPOTENCY_KEY  # it claims the key: a write, whatever the operation
    return None


async def open_session(
    request: Request, token: str, route: Route | None, sessions: contextlib.AsyncExitStack
) -> tuple[AsyncSession, Principal]:
    """The request's session, on the replica when `route` says so, and its caller, known,
    as the tenant. Chosen once, before the tenant switch. A replica that fails to connect,
    or does not know the key or organization yet (made a moment ago), hands the request
    to the primary, which answers it as it would have without a replica."""
    state = request.app.state
    if route is Route.REPLICA:
        replica: ReadReplica = state.read_replica
        db = await sessions.enter_async_context(replica.sessionmaker())
        try:
            principal = await on_a_live_connection(
                db, lambda: open_as_tenant(request, db, token, on_replica=True)
            )
        except Unauthorized:
            pass
        except DATABASE_ERRORS as error:
            if not is_database_unavailable(error):
                raise
            replica.monitor.mark_unavailable(f"{type(error).__name__}: {error}")
        else:
            route.count_read()
            return db, principal
        await db.close()
        route = Route.FELL_BACK
    if route is None and state.tenant_sessions is not None and await is_plain_read(request):
        return await open_tenant_session(request, token, sessions)
    sessionmaker: async_sessionmaker[AsyncSession] = state.sessionmaker
    db = await sessions.enter_async_context(sessionmaker())
    principal = await on_a_live_connection(db, lambda: open_as_tenant(request, db, token))
    if route is not None:
        route.count_read()
    return db, principal


async def is_plain_read(request: Request) -> bool:
    """A query without an `Idempotency-Key` (claiming one writes)."""
    limits: Limits = request.app.state.limits
    return "idempotency-key" not in request.headers and await is_read_only(
        request, limits.max_tokens
    )


async def open_tenant_session(
    request: Request, token: str, sessions: contextlib.AsyncExitStack
) -> tuple[AsyncSession, Principal]:
    """A read's session from the tenant sessions (kit.db.TenantSessions): no transaction
    to begin and commit, and no switch on a connection already the caller's organization's.
    The key is checked on the primary's own engine first (a cached key touches neither)."""
    state = request.app.state
    async with state.sessionmaker() as owner:
        principal = await on_a_live_connection(owner, lambda: identify(request, owner, token))
    tenant_sessions: TenantSessions = state.tenant_sessions
    db = await sessions.enter_async_context(tenant_sessions.session(principal.organization_id))
    if db is None:
        raise Unauthorized("The token's organization does not exist.")
    return db, principal


def subscription_context(websocket: WebSocket) -> SubscriptionContext:
    state = websocket.app.state

    async def authenticate(token: str) -> Principal | None:
        """The token's principal, by the rules of HTTP requests; None when refused."""
        async with state.sessionmaker() as db:
            try:
                return await on_a_live_connection(db, lambda: open_as_tenant(websocket, db, token))
            except Unauthorized:
                return None

    return SubscriptionContext(
        websocket,
        authenticate=authenticate,
        sessionmaker=state.sessionmaker,
        settings=state.settings,
        slots=state.subscription_slots,
        feeds=state.subscription_feeds,
    )


async def open_as_tenant(
    request: HTTPConnection, db: AsyncSession, token: str, *, on_replica: bool = False
) -> Principal:
    """The caller, known; from here on the transaction runs as the tenant role: row-level
    security hides every other organization's rows even from a query that forgets its
    filter. `on_replica`: a refused key is not remembered (the primary is asked next)."""
    principal = await identify(request, db, token, on_replica=on_replica)
    if not await enter_tenant(db, principal.organization_id):
        raise Unauthorized("The token's organization does not exist.")
    return principal


async def identify(
    request: HTTPConnection, db: AsyncSession, token: str, *, on_replica: bool = False
) -> Principal:
    """A JWT (three dot-separated parts) is a user's token, checked without the database;
    anything else is an API key, looked up before the tenant is known."""
    principal = await verify_token(request, db, token, on_replica=on_replica)
    # The rate limit lets this token skip its address's budget for failed attempts.
    mark_authenticated(request.scope)
    return principal


async def verify_token(
    request: HTTPConnection, db: AsyncSession, token: str, *, on_replica: bool = False
) -> Principal:
    if looks_like_jwt(token):
        verifier: TokenVerifier | None = request.app.state.token_verifier
        if verifier is None:
            raise Unauthorized("User tokens are not accepted: no JWT keys are configured.")
        try:
            return verifier.verify(token)
        except InvalidToken as error:
            raise Unauthorized(error.message) from None
    try:
        return await authenticate(
            db, token, request.app.state.principal_cache, remember_refusal=not on_replica
        )
    except Unauthenticated:
        raise Unauthorized("Unknown, expired or revoked API key.") from None


class IdempotentReplay(Exception):
    """Answered with the stored response of the first request that used the key."""

    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__("replay")
        self.response = response


class BadIdempotencyKey(Exception):
    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code, self.code, self.message = status_code, code, message


async def replay_or_claim(request: Request, db: AsyncSession, principal: Principal) -> str | None:
    """With an `Idempotency-Key` header: claim the key in this request's transaction, or
    answer now with what the first request with this key and body got."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 0 < len(key) <= idempotency.MAX_KEY_LENGTH:
        raise BadIdempotencyKey(
            400, "INVALID_IDEMPOTENCY_KEY", "Idempotency-Key must be 1 to 255 characters."
        )
    settings: Settings = request.app.state.settings
    try:
        earlier = await idempotency.claim(
            db,
            principal.organization_id,
            key,
            idempotency.request_hash(await request.body()),
            timedelta(hours=settings.idempotency_retention_hours),
        )
    except idempotency.IdempotencyKeyReused:
        raise BadIdempotencyKey(
            422,
            "IDEMPOTENCY_KEY_REUSED",
            "This Idempotency-Key was used with another request body.",
        ) from None
    if earlier is not None:
        raise IdempotentReplay(earlier)
    return key


async def idempotent_replay_response(_: Request, error: Exception) -> Response:
    assert isinstance(error, IdempotentReplay)
    metrics.IDEMPOTENT_REPLAYS.inc()
    return Response(
        orjson.dumps(error.response),
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


async def bad_idempotency_key_response(request: Request, error: Exception) -> Response:
    assert isinstance(error, BadIdempotencyKey)
    return graphql_error_response(request, error.status_code, error.code, error.message)


async def unauthorized_response(request: Request, error: Exception) -> Response:
    """401 kept, with a body every GraphQL client reads: `errors[].extensions.code`."""
    assert isinstance(error, Unauthorized)
    return graphql_error_response(
        request, 401, "UNAUTHENTICATED", error.message, {"WWW-Authenticate": "Bearer"}
    )


async def input_too_deep_response(request: Request, error: Exception) -> Response:
    assert isinstance(error, InputTooDeep)
    return graphql_error_response(request, 400, error.code, error.message)


async def invalid_consistency_token_response(request: Request, error: Exception) -> Response:
    assert isinstance(error, InvalidConsistencyToken)
    return graphql_error_response(request, 400, error.code, str(error))


def replica_of(primary: AsyncEngine, settings: Settings) -> ReadReplica | None:
    """The read replica of OKR_DATABASE_READ_URL, on an engine of the primary's settings."""
    if settings.database_read_url is None:
        return None
    engine = create_engine(
        settings.database_read_url.get_secret_value(),
        settings,
        connect_timeout=REPLICA_CONNECT_TIMEOUT_SECONDS,
    )
    return ReadReplica(primary, engine, settings)


class FastJSONGraphQLRouter(SpecGraphQLRouter):
    """GraphQL over HTTP as the spec says (okr_service/graphql/http.py), errors masked."""

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            # Errors raised around execution (e.g. the commit) were never masked: mask them.
            result.errors = mask_escaped_errors(result.errors)
            codes = {(error.extensions or {}).get("code") for error in result.errors}
            if "DATABASE_UNAVAILABLE" in codes:
                raise DatabaseUnavailable  # answered 503, not a masked 500
        record = record_of(request.scope)
        if record is not None:
            note_result(record, result.errors, result.extensions)
        return await super().process_result(request, result)


def with_webhooks(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """`app.openapi`, documenting the webhooks (OpenAPI `webhooks`: every event type and
    its body) when it makes the document: their models would otherwise stay in every
    worker (about 2 MB) for a document few ever ask for."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None and not app.webhooks.routes:
            document_webhooks(app.webhooks)
        return generate()

    return openapi


def create_app(
    settings: Settings | None = None,
    database_url: str | None = None,
    *,
    webhook_worker: bool | None = None,
    clock: Clock | None = None,
    tracer_provider: "TracerProvider | None" = None,
) -> FastAPI:
    """The application; the engine is made at start-up (lifespan), never at import.

    `webhook_worker`: run a delivery worker and the health sweep in-process; by default
    the setting decides. `clock`: where requests and the sweep read "now" (the system's).
    `tracer_provider`: where spans go; by default the `OTEL_*` variables decide (none set:
    no tracing).
    """
    settings = settings or get_settings()
    clock = clock or Clock()
    owns_provider = tracer_provider is None
    tracer_provider = tracer_provider or backends.tracer_provider()
    tracer = tracer_of(tracer_provider)
    if webhook_worker is None:
        webhook_worker = settings.webhook_worker_in_process

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url or resolve_database_url(settings)
        engine = create_engine(url, settings)
        metrics.instrument_pool(engine, "api")
        if tracer is not None:
            trace_sql(engine, tracer)
        app.state.engine = engine
        app.state.settings = settings
        app.state.sessionmaker = create_sessionmaker(engine)
        # Reads keep a tenant per connection instead of per transaction; not behind a
        # transaction pooler, which must get every connection back as it lent it.
        tenant_sessions = (
            None
            if settings.database_pooler == "transaction"
            else TenantSessions(create_engine(url, settings, autocommit=True))
        )
        if tenant_sessions is not None:
            metrics.instrument_pool(tenant_sessions.engine, "reads")
            if tracer is not None:
                trace_sql(tenant_sessions.engine, tracer)
        app.state.tenant_sessions = tenant_sessions
        app.state.token_verifier = backends.token_verifier(settings)
        app.state.principal_cache = PrincipalCache(
            settings.auth_cache_seconds, settings.auth_refusal_cache_seconds
        )
        # Without cached keys there is nothing a revocation could leave stale.
        revocations = (
            RevocationListener(url, settings, app.state.principal_cache)
            if settings.auth_cache_seconds
            else None
        )
        app.state.revocations = revocations
        # Live subscriptions: one feed per organization, woken by one LISTEN connection.
        subscription_feeds = SubscriptionFeeds(url, settings, app.state.sessionmaker)
        app.state.subscription_feeds = subscription_feeds
        # With Redis the rate limits hold across replicas; without, per process.
        rate_limit_store = backends.redis_buckets(settings)
        app.state.rate_limit_store = rate_limit_store
        read_replica = replica_of(engine, settings)
        if read_replica is not None:
            metrics.instrument_pool(read_replica.engine, "replica")
            if tracer is not None:
                trace_sql(read_replica.engine, tracer)
        app.state.read_replica = read_replica
        worker = DeliveryWorker(url, settings, tracer=tracer) if webhook_worker else None
        sweeper = (
            HealthSweeper(
                app.state.sessionmaker,
                clock,
                settings.health_sweep_interval_seconds,
                settings.check_in_cadence(),
            )
            if webhook_worker
            else None
        )
        # Whatever started is stopped, in reverse order, also when a later start fails.
        async with contextlib.AsyncExitStack() as running:
            if tracer_provider is not None and owns_provider:
                running.callback(tracer_provider.shutdown)  # sends the spans still batched
            running.callback(metrics.process_exited, os.getpid())
            running.push_async_callback(engine.dispose)
            if tenant_sessions is not None:
                running.push_async_callback(tenant_sessions.engine.dispose)
            if read_replica is not None:
                running.push_async_callback(read_replica.engine.dispose)
                await read_replica.monitor.start()
                running.push_async_callback(read_replica.monitor.stop)
            if rate_limit_store is not None:
                running.push_async_callback(rate_limit_store.close)
            if revocations is not None:
                await revocations.start()
                running.push_async_callback(revocations.stop)
            await subscription_feeds.start()
            running.push_async_callback(subscription_feeds.stop)
            if worker is not None and sweeper is not None:
                await worker.start()
                running.push_async_callback(worker.stop)
                await sweeper.start()
                running.push_async_callback(sweeper.stop)
            # Everything allocated so far lives as long as the process: keep it out of the
            # collector's generations, so full collections stay short and rare under load.
            gc.collect()
            gc.freeze()
            yield

    app = FastAPI(
        title="okr-service",
        version="0.1.0",
        description="GraphQL API for OKRs at /graphql; these are the REST routes around it.",
        lifespan=lifespan,
    )
    app.add_exception_handler(Unauthorized, unauthorized_response)
    app.add_exception_handler(IdempotentReplay, idempotent_replay_response)
    app.add_exception_handler(BadIdempotencyKey, bad_idempotency_key_response)
    app.add_exception_handler(InputTooDeep, input_too_deep_response)
    app.add_exception_handler(InvalidConsistencyToken, invalid_consistency_token_response)
    app.openapi = documented(with_webhooks(app))  # type: ignore[method-assign]  # security, servers
    app.state.clock = clock
    app.state.tracer = tracer  # read by the schema's ObserveOperation
    app.state.limits = Limits.from_settings(settings)  # read by the schema's QueryLimits
    app.state.subscription_slots = SubscriptionSlots(settings.max_subscriptions_per_key)
    app.state.rate_limit_store = None  # Redis' buckets, when configured, from start-up on
    app.state.read_replica = None  # the read replica, when configured, from start-up on
    app.state.tenant_sessions = None  # reads' sessions, from start-up on (not with a pooler)
    for database_error in DATABASE_ERRORS:  # unreachable database: 503, not 500
        app.add_exception_handler(database_error, database_error_response)
    # Each middleware added wraps the ones before. From the outside in: a flood is refused
    # before anything else, then a key's requests beyond its share of the pool, then an
    # oversized body; the body is then read whole, within its deadline, before the route
    # takes a database connection.
    app.add_middleware(BodyReadDeadline, timeout=settings.body_read_timeout_seconds)
    app.add_middleware(BodySizeLimit, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(InFlightLimit, max_per_key=settings.max_concurrent_requests_per_key)
    app.add_middleware(
        RateLimit,
        rate=settings.rate_limit_per_second,
        burst=settings.rate_limit_burst,
        failure_rate=settings.auth_failure_rate_per_second,
        failure_burst=settings.auth_failure_burst,
        trusted_proxy_header=settings.trusted_proxy_header,
    )
    # Outside the limits: a preflight costs nothing, and a page can read a 429 or a 401.
    if (cors := cors_options(settings)) is not None:
        app.add_middleware(CORSMiddleware, **cors)
    # Outermost: every request, refused ones too, gets its id, log line, metrics and span.
    app.add_middleware(
        Observe,
        operation_names=metrics.OperationNames(settings.metrics_max_operation_names),
        tracer=tracer,
    )
    ide = OfflineGraphiQL.load() if settings.graphiql else None
    graphql: GraphQLRouter[Any, None] = FastJSONGraphQLRouter(
        federated_schema() if settings.federation else schema,
        context_getter=graphql_context,
        ide=ide,
        max_json_depth=settings.max_json_depth,
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        max_websocket_message_bytes=settings.max_websocket_message_bytes,
        connection_init_wait_timeout=timedelta(seconds=10),
        # Browsers' WebSockets from other origins: as for CORS.
        allowed_origins=[*settings.cors_origins],
        allowed_origin_regex=settings.cors_origin_regex,
    )
    app.include_router(graphql, prefix="/graphql", include_in_schema=False)
    if ide is not None:  # GraphiQL's scripts and styles, from the service itself
        app.add_route(f"{ASSETS_PATH}/{{path:path}}", ide.serve_asset, include_in_schema=False)
    install_integration_route(app, settings)  # POST /integrations/{provider}/{id}

    @app.get("/healthz", summary="Liveness: the process is up.", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="Readiness: the database answers.",
        tags=["health"],
        responses={503: {"description": "The database is unreachable."}},
    )
    async def readyz(request: Request) -> JSONResponse:
        engine: AsyncEngine = request.app.state.engine
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            logger.warning("Readiness check failed", exc_info=True)
            return JSONResponse(
                status_code=503,
                content={"status": "unavailable", "error": {"code": "DATABASE_UNAVAILABLE"}},
            )
        return JSONResponse({"status": "ok"})

    if settings.metrics:

        @app.get(
            "/metrics",
            summary="Prometheus metrics, in the text exposition format.",
            tags=["operations"],
            response_class=Response,
        )
        async def prometheus_metrics() -> Response:
            body, content_type = metrics.exposition()
            return Response(body, media_type=content_type)

    return app
