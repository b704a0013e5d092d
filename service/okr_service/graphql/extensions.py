"""Request-wide GraphQL behaviour: the transaction boundary, error masking and logging."""

import logging
from collections.abc import AsyncIterator
from uuid import uuid4

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.relay.types import GlobalIDValueError
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from okr_service.graphql.context import Context
from okr_service.idempotency import service as idempotency
from okr_service.kit.errors import DomainError
from okr_service.kit.outage import is_database_unavailable, is_query_timeout
from okr_service.kit.replica import CONSISTENCY_HEADER

logger = logging.getLogger(__name__)


class RequestTransaction(SchemaExtension):
    """The request owns the transaction: commit once after a clean operation, else roll back.

    Services only flush; this is the one place that commits.
    """

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if not isinstance(context, Context):
            return  # a subscription: no request transaction, each read takes its own
        result = self.execution_context.result
        failed = result is None or bool(getattr(result, "errors", None))
        if failed or context.rollback_only:
            await context.db.rollback()
            return
        if context.idempotency_key is not None:
            stored = {"data": result.data}  # type: ignore[union-attr]
            if extensions := getattr(result, "extensions", None):
                stored["extensions"] = extensions  # the query cost: a replay answers the same
            await idempotency.remember(
                context.db,
                context.principal.organization_id,
                context.idempotency_key,
                stored,
            )
        await context.db.commit()
        if context.after_write is not None and is_mutation(self.execution_context):
            token = await context.after_write()
            if token is not None and context.response is not None:
                context.response.headers[CONSISTENCY_HEADER] = token


def is_mutation(execution: ExecutionContext) -> bool:
    return operation_is(execution, OperationType.MUTATION)


def operation_is(execution: ExecutionContext, kind: OperationType) -> bool:
    try:
        return execution.operation_type is kind
    except RuntimeError:  # no operation of that name: nothing ran
        return False


def is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    # GlobalIDValueError: `node(id:)` given an ID naming no node type: bad input, not a bug.
    return original is None or isinstance(original, GraphQLError | DomainError | GlobalIDValueError)


class MaskUnexpectedErrors(MaskErrors):
    """Expected errors keep their message and get a stable `code`; anything else is logged
    with an id and reaches the client as that id only, never as a stack trace."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: not is_expected(error))

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [
            self._expected(error) if is_expected(error) else self.anonymise_error(error)
            for error in errors
        ]

    @staticmethod
    def _expected(error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if isinstance(original, DomainError):
            first = original.errors[0]
            error.extensions = {"code": str(first.code), "field": first.field}
        elif isinstance(original, GlobalIDValueError):
            error.message = "Malformed ID."
            error.extensions = {"code": "INVALID_ID"}
        elif error.extensions is None or "code" not in error.extensions:
            error.extensions = {**(error.extensions or {}), "code": "GRAPHQL_VALIDATION_FAILED"}
        return error

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        error_id = uuid4().hex
        logger.error(
            "Unexpected error %s at %s", error_id, error.path, exc_info=error.original_error
        )
        masked = super().anonymise_error(error)
        # A lost or refused database connection is an outage, not a bug: the HTTP layer
        # answers the request 503 (okr_service/kit/outage.py).
        code = "INTERNAL_SERVER_ERROR"
        if is_database_unavailable(error.original_error):
            code = "DATABASE_UNAVAILABLE"
        elif is_query_timeout(error.original_error):
            code = "QUERY_TIMEOUT"  # over OKR_DATABASE_STATEMENT_TIMEOUT_SECONDS: not retried
        masked.extensions = {"code": code, "errorId": error_id}
        return masked


class QuietSchema(strawberry.Schema):
    """Strawberry logs every GraphQL error at ERROR, with its traceback. A client's bad
    input (syntax, validation, limits, user errors) is no fault of the server: one DEBUG
    line, cut short, so a hostile document cannot fill the log. The unexpected keep
    strawberry's ERROR log, traceback included."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = []
        for error in errors:
            if is_expected(error):
                logger.debug("Client error: %.200s", error.message)
            else:
                unexpected.append(error)
        super().process_errors(unexpected, execution_context)


def mask_escaped_errors(errors: list[GraphQLError]) -> list[GraphQLError]:
    """Give every error a code and mask the unexpected ones: also those raised around the
    execution (a failed commit, an extension's hook), which MaskUnexpectedErrors never saw.
    Idempotent: the HTTP layer passes every result through it."""
    return MaskUnexpectedErrors()._process_errors(errors)
