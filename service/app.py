"""The ASGI application: GraphQL at /graphql, health probes, and the request's transaction."""

import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import orjson
from cross_web import HTTPException
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from service.auth.revocations import RevocationListener
from service.auth.service import PrincipalCache, authenticate
from service.auth.tokens import InvalidToken, TokenVerifier, looks_like_jwt
from service.cycles.sweep import HealthSweeper
from service.graphql.context import Context
from service.graphql.extensions import mask_escaped_errors
from service.graphql.limits import Limits
from service.graphql.schema import schema
from service.idempotency import service as idempotency
from service.kit.backpressure import BodyReadDeadline, InFlightLimit
from service.kit.clock import Clock
from service.kit.db import (
    create_engine,
    create_sessionmaker,
    enter_tenant,
    on_a_live_connection,
)
from service.kit.errors import Unauthenticated
from service.kit.json_input import InputTooDeep, check_depth
from service.kit.outage import DATABASE_ERRORS, DatabaseUnavailable, database_error_response
from service.kit.principal import Principal
from service.kit.ratelimit import BodySizeLimit, RateLimit, mark_authenticated
from service.kit.settings import Settings, get_settings
from service.kit.startup import resolve_database_url
from service.webhooks.openapi import document_webhooks
from service.webhooks.worker import DeliveryWorker

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
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


async def graphql_context(request: Request) -> AsyncIterator[Context | None]:
    """One session per request; the key is checked in the request's own transaction."""
    if is_graphiql_page(request):
        yield None  # the IDE's page runs nothing; its queries come back with a key
        return
    token = bearer_token(request)
    # The whole body first (already in memory: BodyReadDeadline), then the connection: it
    # is held for the work, never while a client is still uploading.
    await request.body()
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as db:
        principal = await on_a_live_connection(db, lambda: open_as_tenant(request, db, token))
        context = Context(
            db, principal, settings=request.app.state.settings, clock=request.app.state.clock
        )
        context.idempotency_key = await replay_or_claim(request, db, principal)
        yield context


async def open_as_tenant(request: Request, db: AsyncSession, token: str) -> Principal:
    """The caller, known; from here on the transaction runs as the tenant role: row-level
    security hides every other organization's rows even from a query that forgets its
    filter."""
    principal = await identify(request, db, token)
    if not await enter_tenant(db, principal.organization_id):
        raise Unauthorized("The token's organization does not exist.")
    return principal


async def identify(request: Request, db: AsyncSession, token: str) -> Principal:
    """A JWT (three dot-separated parts) is a user's token, checked without the database;
    anything else is an API key, looked up before the tenant is known."""
    principal = await verify_token(request, db, token)
    # The rate limit lets this token skip its address's budget for failed attempts.
    mark_authenticated(request.scope)
    return principal


async def verify_token(request: Request, db: AsyncSession, token: str) -> Principal:
    if looks_like_jwt(token):
        verifier: TokenVerifier | None = request.app.state.token_verifier
        if verifier is None:
            raise Unauthorized("User tokens are not accepted: no JWT keys are configured.")
        try:
            return verifier.verify(token)
        except InvalidToken as error:
            raise Unauthorized(error.message) from None
    try:
        return await authenticate(db, token, request.app.state.principal_cache)
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
    return Response(
        orjson.dumps(error.response),
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


async def bad_idempotency_key_response(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, BadIdempotencyKey)
    return JSONResponse(
        status_code=error.status_code,
        content={"error": {"code": error.code, "message": error.message}},
    )


async def unauthorized_response(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Unauthorized)
    return JSONResponse(
        status_code=401,
        content={"error": {"code": "UNAUTHENTICATED", "message": error.message}},
        headers={"WWW-Authenticate": "Bearer"},
    )


async def input_too_deep_response(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InputTooDeep)
    return JSONResponse(
        status_code=400, content={"error": {"code": error.code, "message": error.message}}
    )


ORJSON_TOO_DEEP = "depth limit exceeded"  # orjson's own limit: 1024 levels


class FastJSONGraphQLRouter(GraphQLRouter[Any, None]):
    """JSON by orjson: several times faster than `json` on large results. Request JSON (a
    body, a GET's variables) nesting more than `max_json_depth` levels is refused whole."""

    def __init__(self, *args: Any, max_json_depth: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_json_depth = max_json_depth

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        try:
            decoded = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            if ORJSON_TOO_DEEP in error.msg:
                raise InputTooDeep(self.max_json_depth) from None
            raise  # any other JSONDecodeError (bad UTF-8 too) is answered 400
        # Before anything walks it (NUL scan, variable coercion): answered 400 INPUT_TOO_DEEP.
        check_depth(decoded, self.max_json_depth)
        if not isinstance(decoded, dict | list):  # a list is a batch: refused 400 (not enabled)
            raise HTTPException(400, "The request body must be a JSON object.")
        return decoded

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            # Errors raised around execution (e.g. the commit) were never masked: mask them.
            result.errors = mask_escaped_errors(result.errors)
            codes = {(error.extensions or {}).get("code") for error in result.errors}
            if "DATABASE_UNAVAILABLE" in codes:
                raise DatabaseUnavailable  # answered 503, not a masked 500
        return await super().process_result(request, result)


def create_app(
    settings: Settings | None = None,
    database_url: str | None = None,
    *,
    webhook_worker: bool | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """The application; the engine is made at start-up (lifespan), never at import.

    `webhook_worker`: run a delivery worker and the health sweep in-process; by default
    the setting decides. `clock`: where requests and the sweep read "now" (the system's).
    """
    settings = settings or get_settings()
    clock = clock or Clock()
    if webhook_worker is None:
        webhook_worker = settings.webhook_worker_in_process

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url or resolve_database_url(settings)
        engine = create_engine(url, settings)
        app.state.engine = engine
        app.state.settings = settings
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.token_verifier = TokenVerifier.from_settings(settings)
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
        worker = DeliveryWorker(url, settings) if webhook_worker else None
        sweeper = (
            HealthSweeper(app.state.sessionmaker, clock, settings.health_sweep_interval_seconds)
            if webhook_worker
            else None
        )
        # Whatever started is stopped, in reverse order, also when a later start fails.
        async with contextlib.AsyncExitStack() as running:
            running.push_async_callback(engine.dispose)
            if revocations is not None:
                await revocations.start()
                running.push_async_callback(revocations.stop)
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
    document_webhooks(app.webhooks)  # OpenAPI `webhooks`: every event type and its body
    app.state.clock = clock
    app.state.limits = Limits.from_settings(settings)  # read by the schema's QueryLimits
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
    graphql: GraphQLRouter[Any, None] = FastJSONGraphQLRouter(
        schema,
        context_getter=graphql_context,
        graphql_ide="graphiql" if settings.graphiql else None,
        max_json_depth=settings.max_json_depth,
    )
    app.include_router(graphql, prefix="/graphql", include_in_schema=False)

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

    return app
