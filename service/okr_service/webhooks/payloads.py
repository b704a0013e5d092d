"""The JSON body of a webhook, built once per event, and its documented schema."""

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy import Row

from okr_service.events.catalog import CATALOG, EventSpec, EventType
from okr_service.events.metadata import model_of, referenced_type
from okr_service.events.service import HIDDEN_COLUMNS, camel_case
from okr_service.key_results.models import CheckIn
from okr_service.kit.ids import global_id
from okr_service.kit.models import Base


def event_data(event: Row[Any]) -> dict[str, Any]:
    """`data` of a webhook body (and of the GraphQL Event): object, changes, actor, sequence."""
    return {
        "object": event.data["object"],
        "changes": event.data.get("changes") or {},
        "actor": event.actor,
        "sequence": event.sequence,
    }


def event_body(event: Row[Any]) -> bytes:
    """The exact bytes sent (and signed) for `event`: the same on every attempt."""
    return orjson.dumps(
        {
            "type": event.type,
            "timestamp": event.occurred_at.isoformat(),
            "data": event_data(event),
        }
    )


def event_global_id(event_id: UUID) -> str:
    """The event's global ID: the `webhook-id` header and `Event.id` in GraphQL alike."""
    return global_id("Event", event_id)


# Documented schema (OpenAPI `webhooks`), derived from the tables so it cannot drift from
# events.service.snapshot, which serialises the same columns.


class Change(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: Any = Field(alias="from", description="The value before.")
    to: Any = Field(description="The value after.")


SEQUENCE_DESCRIPTION = (
    "Grows by one with each event of this object (1, 2, 3...), in the order its changes "
    "happened, and each endpoint receives an object's events in this order. A gap means an "
    "event of the object died or is not subscribed to (read it with `events(subjectId:)`)."
)


class Actor(BaseModel):
    type: str = Field(
        description="`api_key`, `user` (a person signed in with a token), `system` (the "
        "delivery worker, the health sweep), or `integration` (a roadmap tool's webhook)."
    )
    id: str = Field(
        description="Global ID: `ApiKey`, `User` (wrapping the token's `sub`), `System` or "
        "`Integration`."
    )
    name: str


def _constant(value: str) -> Any:
    """The JSON Schema `const` of a type name known only at run time."""
    return Literal[value]


def _python_type(model: type[Base], column_key: str) -> Any:
    column = model.__table__.columns[column_key]
    if referenced_type(column) is not None:
        annotation: Any = str  # a global ID
    else:
        try:
            annotation = column.type.python_type
        except NotImplementedError:
            annotation = Any
        # JSONB columns (a cycle's retrospective) say `object`: they hold JSON objects.
        annotation = {Decimal: float, UUID: str, object: dict}.get(annotation, annotation)
        if isinstance(annotation, type) and issubclass(annotation, Enum):
            annotation = Literal[tuple(member.value for member in annotation)]
        elif annotation in (dict, list):
            annotation = annotation[str, Any] if annotation is dict else list[Any]
    return annotation | None if column.nullable else annotation


def object_model(type_name: str, model: type[Base]) -> type[BaseModel]:
    fields: dict[str, Any] = {
        "id": (str, Field(description=f"Global ID of the {type_name}.")),
        "typename": (_constant(type_name), ...),
    }
    for column in model.__table__.columns:
        if column.key not in HIDDEN_COLUMNS:
            fields[camel_case(column.key)] = (_python_type(model, column.key), ...)
    return create_model(type_name, **fields)


class WebhookEndpointObject(BaseModel):
    """What events tell of an endpoint (webhooks.service.public_state): never its secrets."""

    id: str
    typename: Literal["WebhookEndpoint"]
    url: str
    description: str | None
    eventTypes: list[str]
    teamIds: list[str]
    enabled: bool
    disabledReason: str | None


def _object_models() -> dict[str, type[BaseModel]]:
    models: dict[str, type[BaseModel]] = {"WebhookEndpoint": WebhookEndpointObject}
    for spec in CATALOG.values():
        if spec.subject_type not in models:
            models[spec.subject_type] = object_model(spec.subject_type, model_of(spec.subject_type))
    check_in = object_model("CheckIn", CheckIn)
    models["checkIn"] = create_model(
        "KeyResultWithCheckIn",
        __base__=models["KeyResult"],
        checkIn=(check_in, Field(description="The check-in just recorded.")),
    )
    models["checkInDue"] = create_model(
        "KeyResultWithCheckInDue",
        __base__=models["KeyResult"],
        checkInDue=(CheckInDue, ...),
    )
    return models


class CheckInDue(BaseModel):
    since: datetime = Field(description="The last check-in, or the cycle's first day.")
    missedPeriods: int = Field(description="Whole check-in periods since then: 1, 2, 3...")
    cadenceDays: int = Field(description="The length of a period (OKR_CHECK_IN_CADENCE_DAYS).")


def payload_model(
    event_type: EventType, spec: EventSpec, objects: dict[str, type[BaseModel]]
) -> type[BaseModel]:
    name = "".join(part.title() for part in event_type.replace(".", "_").split("_"))
    object_type = spec.extra or spec.subject_type
    data = create_model(
        f"{name}Data",
        object=(objects[object_type], Field(description="The object's full state.")),
        changes=(dict[str, Change], Field(description="Changed fields: {from, to}.")),
        actor=(Actor, ...),
        sequence=(int, Field(description=SEQUENCE_DESCRIPTION)),
    )
    return create_model(
        f"{name}Event",
        __doc__=spec.description,
        type=(_constant(event_type.value), ...),
        timestamp=(datetime, Field(description="When the change happened.")),
        data=(data, ...),
    )


def payload_models() -> dict[EventType, type[BaseModel]]:
    """The body schema of every event type, by type."""
    objects = _object_models()
    return {
        event_type: payload_model(event_type, spec, objects) for event_type, spec in CATALOG.items()
    }
