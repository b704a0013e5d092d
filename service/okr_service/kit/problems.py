"""Error answers given before or instead of a route's own work (a limit, an outage), in the
shape the route's clients read.

- On /graphql: a GraphQL response, `{"errors": [{"message", "extensions": {"code"}}]}`, as
  `application/graphql-response+json` when the client's `Accept` prefers it, else
  `application/json` (GraphQL over HTTP); standard GraphQL clients read the code there.
- On the REST routes (/integrations, /readyz...): `{"error": {"code", "message"}}`, as
  their OpenAPI document says.

The HTTP status and headers (`Retry-After`...) are the same in both shapes.
"""

import orjson
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import Scope, Send

GRAPHQL_PATH = "/graphql"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"


def preferred_media_type(accept: str) -> str:
    """`application/graphql-response+json` when `accept` ranks it at least as high as
    `application/json`; `application/json` otherwise (wildcards and no header included)."""
    ranks = {GRAPHQL_RESPONSE_JSON: 0.0, JSON: 0.0}
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        if media not in ranks:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranks[media] = max(ranks[media], quality)
    if ranks[GRAPHQL_RESPONSE_JSON] > 0 and ranks[GRAPHQL_RESPONSE_JSON] >= ranks[JSON]:
        return GRAPHQL_RESPONSE_JSON
    return JSON


def graphql_error_body(code: str, message: str) -> bytes:
    """The one GraphQL error body: a response with no `data` and one coded error."""
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})


def rest_error_body(code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}})


def is_graphql_path(path: str) -> bool:
    return path == GRAPHQL_PATH or path.startswith(GRAPHQL_PATH + "/")


def error_for(scope: Scope, code: str, message: str) -> tuple[bytes, str]:
    """The body and media type of an error answered on the route `scope` is for."""
    if is_graphql_path(scope["path"]):
        accept = Headers(scope=scope).get("accept", "")
        return graphql_error_body(code, message), preferred_media_type(accept)
    return rest_error_body(code, message), JSON


async def send_error(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer from ASGI middleware, before the application saw the request."""
    body, media_type = error_for(scope, code, message)
    raw_headers = [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def error_response(
    connection: HTTPConnection,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """Answer from an exception handler, in the shape of the route the request was for."""
    body, media_type = error_for(connection.scope, code, message)
    return Response(body, status_code=status, media_type=media_type, headers=headers)


def graphql_error_response(
    connection: HTTPConnection,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """A GraphQL error response, whatever the path (the GraphQL router's own refusals)."""
    return Response(
        graphql_error_body(code, message),
        status_code=status,
        media_type=preferred_media_type(connection.headers.get("accept", "")),
        headers=headers,
    )
