"""GraphQL over HTTP, to the letter of the spec (graphql.github.io/graphql-over-http).

- The response's media type follows `Accept`: `application/graphql-response+json` when the
  client prefers it, else `application/json` (also for `*/*` or no `Accept` at all).
- A request error (the document does not parse or validate, the variables do not coerce,
  a limit refuses it) has no `data` entry: execution never began. With
  `application/graphql-response+json` it is answered 400; with `application/json` 200, as
  legacy clients expect.
- A request that is not GraphQL at all (malformed JSON, no query, a batch, another content
  type) is answered 4xx with a GraphQL error body, never plain text; a mutation over GET is
  405 with `Allow: POST`; a subscription over HTTP is 400 (they run over WebSocket). Every
  error carries `extensions.code`.

The same router serves WebSockets (subscriptions): `connection_init` authenticates, messages
are bounded in size and depth, and browsers' origins follow the CORS settings.
"""

import contextlib
import re
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from okr_service.graphql.ide import OfflineGraphiQL
from okr_service.graphql.subscriptions.context import SubscriptionContext
from okr_service.kit.json_input import InputTooDeep, check_depth
from okr_service.kit.problems import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    graphql_error_response,
    preferred_media_type,
)

ORJSON_TOO_DEEP = "depth limit exceeded"  # orjson's own limit: 1024 levels
# Set on a request whose operation never began executing (parse, validation, coercion).
REQUEST_ERROR_FLAG = "graphql_request_error"


class BadGraphQLRequest(HTTPException):
    """A request that is not a GraphQL request this endpoint serves: a 4xx with a code."""

    def __init__(
        self, status_code: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code, message)
        self.code = code
        self.headers = headers or {}


def media_type_for(connection: HTTPConnection) -> str:
    return preferred_media_type(connection.headers.get("accept", ""))


def is_request_error(result: ExecutionResult) -> bool:
    """Whether the operation failed before execution began: field errors have a path."""
    errors = result.errors or []
    return result.data is None and bool(errors) and all(not error.path for error in errors)


def http_problem(error: HTTPException) -> BadGraphQLRequest:
    """Strawberry's plain HTTP refusals, as coded GraphQL errors."""
    if isinstance(error, BadGraphQLRequest):
        return error
    return BadGraphQLRequest(error.status_code, "BAD_REQUEST", error.reason)


def operation_not_allowed(operation_type: OperationType) -> BadGraphQLRequest:
    if operation_type is OperationType.SUBSCRIPTION:
        return BadGraphQLRequest(
            400,
            "SUBSCRIPTION_OVER_HTTP",
            "Subscriptions run over a WebSocket at /graphql (graphql-transport-ws).",
        )
    return BadGraphQLRequest(
        405, "METHOD_NOT_ALLOWED", "Mutations are sent with POST, not GET.", {"Allow": "POST"}
    )


def unsupported_content_type(request: Request) -> BadGraphQLRequest | None:
    """A POST must be JSON: anything else (none, `application/graphql`, a form) is 415."""
    if request.method != "POST":
        return None
    content_type, _ = parse_content_type(request.headers.get("content-type", ""))
    if content_type == JSON:
        return None
    return BadGraphQLRequest(
        415,
        "UNSUPPORTED_CONTENT_TYPE",
        "Send the request as 'Content-Type: application/json'.",
        {"Accept-Post": JSON},
    )


class BoundedWebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's WebSocket adapter, refusing messages over the size limit (closed 1009)
    and JSON nested deeper than the HTTP body may be."""

    view: "SpecGraphQLRouter"

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                if len(text.encode()) > self.view.max_websocket_message_bytes:
                    await self.ws.close(code=1009, reason="Message too big")
                    return
                try:
                    message = orjson.loads(text)
                    check_depth(message, self.view.max_json_depth)
                except (orjson.JSONDecodeError, InputTooDeep) as error:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from error
                    continue
                yield message
        except KeyError as error:  # a binary frame
            raise NonTextMessageReceived from error
        except WebSocketDisconnect:
            pass

    async def send_json(self, message: Mapping[str, object]) -> None:
        """As text frames (the protocols' own). To a client already gone it is a no-op: the
        handler's reading side sees the disconnect and ends the connection's operations."""
        with contextlib.suppress(WebSocketDisconnect, OSError):
            await self.ws.send_text(orjson.dumps(message).decode())


def bearer_of(connection_params: dict[str, Any]) -> str | None:
    """The token of `connection_init`'s `{"Authorization": "Bearer <token>"}` (the header
    HTTP requests send, any case of its name), else None."""
    for name, value in connection_params.items():
        if name.lower() == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


class SpecGraphQLRouter(GraphQLRouter[Any, None]):
    """Strawberry's router answering exactly as GraphQL over HTTP says (module docstring).

    JSON by orjson: several times faster than `json` on large results. Request JSON (a
    body, a GET's variables) nesting more than `max_json_depth` levels is refused whole.
    """

    websocket_adapter_class = BoundedWebSocketAdapter

    def __init__(
        self,
        schema: BaseSchema,
        *,
        max_json_depth: int,
        max_websocket_message_bytes: int = 65_536,
        ide: OfflineGraphiQL | None = None,
        allowed_origin_regex: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql" if ide else None, **kwargs)
        self.ide = ide
        self.max_json_depth = max_json_depth
        self.max_websocket_message_bytes = max_websocket_message_bytes
        self.allowed_origin_regex = (
            re.compile(allowed_origin_regex) if allowed_origin_regex else None
        )

    def is_websocket_origin_allowed(self, request: WebSocket, origin: str) -> bool:
        """A browser's WebSocket from another origin: the CORS origins, list and pattern."""
        if self.allowed_origin_regex is not None and self.allowed_origin_regex.fullmatch(origin):
            return True
        return super().is_websocket_origin_allowed(request, origin)

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: Any,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Strawberry's, with subscriptions refused over HTTP (they run over WebSocket) and
        each refusal coded."""
        allowed = OperationType.from_http(request_adapter.method) - {OperationType.SUBSCRIPTION}
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as error:
            raise BadGraphQLRequest(
                400, "OPERATION_NOT_FOUND", error.as_http_error_reason()
            ) from None
        except InvalidOperationTypeError as error:
            raise operation_not_allowed(error.operation_type) from None
        except MissingQueryError:
            raise BadGraphQLRequest(
                400, "MISSING_QUERY", "The request has no GraphQL `query`."
            ) from None

    async def render_graphql_ide(self, request: Request) -> Response:  # type: ignore[override]
        assert self.ide is not None  # only asked for when the IDE is on
        return self.ide.page_response()

    async def on_ws_connect(
        self, context: SubscriptionContext
    ) -> UnsetType | dict[str, object] | None:
        """`connection_init` authenticates the WebSocket, by the rules of HTTP requests: its
        payload carries `{"Authorization": "Bearer <API key or user token>"}`. Refused:
        the socket is closed 4403 before any subscription."""
        token = bearer_of(context.connection_params)
        if token is None or not await context.sign_in(token):
            raise ConnectionRejectionError(
                {"code": "UNAUTHENTICATED", "message": "Unknown, expired or revoked token."}
            )
        return UnsetType()  # a plain `connection_ack`

    async def run(  # type: ignore[override]
        self,
        request: Request | WebSocket,
        context: Any = UNSET,
        root_value: Any = UNSET,
    ) -> Response | WebSocket:
        if isinstance(request, WebSocket):
            return await super().run(request, context, root_value)
        refusal = unsupported_content_type(request)
        if refusal is not None:
            return self.refuse(request, refusal)
        try:
            response = await super().run(request, context, root_value)
        except HTTPException as error:
            return self.refuse(request, http_problem(error))
        except InputTooDeep as error:
            return self.refuse(request, BadGraphQLRequest(400, error.code, error.message))
        if response.media_type == JSON:  # a GraphQL result, not the IDE's page
            self.negotiate(request, response)
        return response

    @staticmethod
    def negotiate(request: Request, response: Response) -> None:
        media_type = media_type_for(request)
        response.headers["content-type"] = media_type
        if media_type == GRAPHQL_RESPONSE_JSON and getattr(
            request.state, REQUEST_ERROR_FLAG, False
        ):
            response.status_code = 400

    @staticmethod
    def refuse(request: Request, problem: BadGraphQLRequest) -> Response:
        return graphql_error_response(
            request, problem.status_code, problem.code, problem.reason, problem.headers
        )

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def parse_json(self, data: str | bytes) -> Any:
        return self.decode_json(data)

    def decode_json(self, data: str | bytes) -> object:
        try:
            decoded = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            if ORJSON_TOO_DEEP in error.msg:
                raise InputTooDeep(self.max_json_depth) from None
            # Any other JSONDecodeError (bad UTF-8 too).
            raise BadGraphQLRequest(400, "INVALID_JSON", "The body is not valid JSON.") from None
        # Before anything walks it (NUL scan, variable coercion): answered 400 INPUT_TOO_DEEP.
        check_depth(decoded, self.max_json_depth)
        if isinstance(decoded, list):
            raise BadGraphQLRequest(
                400, "BATCH_NOT_SUPPORTED", "Send one operation per request, not an array."
            )
        if not isinstance(decoded, dict):
            raise BadGraphQLRequest(400, "BAD_REQUEST", "The request body must be a JSON object.")
        return decoded

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        processed = await super().process_result(request, result)
        if is_request_error(result):
            setattr(request.state, REQUEST_ERROR_FLAG, True)
            processed.pop("data", None)  # execution never began: no `data` entry at all
        return processed
