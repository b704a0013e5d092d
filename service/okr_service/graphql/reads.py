"""What the read replica's routing needs to know of a request before its session opens:
whether it only reads, and who is asking (okr_service/kit/replica.py decides where it goes)."""

import hashlib
from collections.abc import Mapping

import orjson
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.requests import Request

from okr_service.auth.bearer import unverified_claims
from okr_service.auth.service import hash_key

VERDICT_MEMORY = 1024  # documents whose kind is remembered (keyed by digest: bounded memory)
_read_only: dict[tuple[bytes, str | None], bool] = {}


async def is_read_only(request: Request, max_tokens: int) -> bool:
    """Whether the request's operation is a query. Anything else (a mutation, a
    subscription, a document that does not parse, a body that is not GraphQL) is not: it
    goes to the primary, which answers or refuses it as it always has."""
    requested = operation_requested(request.method, request.query_params, await request.body())
    if requested is None:
        return False
    query, operation_name = requested
    digest = hashlib.blake2b(query.encode(errors="surrogatepass"), digest_size=16).digest()
    verdict_key = (digest, operation_name)
    verdict = _read_only.get(verdict_key)
    if verdict is None:
        verdict = operation_kind(query, operation_name, max_tokens) is OperationType.QUERY
        if len(_read_only) >= VERDICT_MEMORY:
            _read_only.clear()  # crude but bounded; clients send the same few documents
        _read_only[verdict_key] = verdict
    return verdict


def operation_requested(
    method: str, parameters: Mapping[str, str], body: bytes
) -> tuple[str, str | None] | None:
    """The request's document and operation name, as GraphQL over HTTP carries them."""
    if method == "GET":
        fields: object = parameters
    else:
        try:
            fields = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(fields, Mapping):
        return None
    query, operation_name = fields.get("query"), fields.get("operationName")
    if not isinstance(query, str) or not isinstance(operation_name, str | None):
        return None
    return query, operation_name


def operation_kind(query: str, operation_name: str | None, max_tokens: int) -> OperationType | None:
    try:
        document = parse(query, no_location=True, max_tokens=max_tokens)
    except (GraphQLError, RecursionError):  # Strawberry refuses it the same way later
        return None
    operation = get_operation_ast(document, operation_name)
    return None if operation is None else operation.operation


def caller_of(token: str) -> str:
    """Who is asking, read without the database, for the read-your-writes window: a user
    token's organization and subject (unverified: this only steers where a read goes, and
    is noted only after a write, once the token was verified), else the API key's digest."""
    claims = unverified_claims(token)
    if isinstance(claims.get("sub"), str):
        subject = f"{claims.get('org')}:{claims['sub']}".encode(errors="surrogatepass")
        return f"user:{hashlib.sha256(subject).hexdigest()}"  # fixed size, however long
    return f"key:{hash_key(token)}"
