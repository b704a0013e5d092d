"""The catalog is the only list of event types, and payloads follow the table metadata."""

import ast
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Uuid
from strawberry.relay import from_base64

import okr_service.app  # noqa: F401 - every model mapped, as in the running service
from okr_service.events.catalog import (
    CATALOG,
    REMOVALS,
    UNTOLD_REMOVALS,
    EventType,
    parse_event_types,
)
from okr_service.events.metadata import cascading_references, model_of, referenced_type
from okr_service.events.service import HIDDEN_COLUMNS, actor_of, snapshot
from okr_service.kit.errors import DomainError
from okr_service.kit.principal import Principal
from okr_service.objectives.models import Objective

SERVICE = Path(__file__).resolve().parents[2] / "service" / "okr_service"
CATALOG_FILE = SERVICE / "events" / "catalog.py"
NAMES = {event_type.value for event_type in EventType}
# Subjects whose events show a hand-made public state (never their secrets).
PUBLIC_STATE_SUBJECTS = {"WebhookEndpoint"}


def string_constants(path: Path) -> list[tuple[int, str]]:
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_no_code_spells_an_event_type_outside_the_catalog() -> None:
    """Emitting code names types by `EventType` member (mypy checks `record`'s argument)."""
    spelled = [
        f"{path.relative_to(SERVICE)}:{line}: {value}"
        for path in SERVICE.rglob("*.py")
        if path != CATALOG_FILE
        for line, value in string_constants(path)
        if value in NAMES
    ]
    assert spelled == []


def test_every_type_is_declared_once_with_a_subject_that_exists() -> None:
    assert set(CATALOG) == set(EventType)
    for event_type, spec in CATALOG.items():
        assert spec.description.endswith("."), event_type
        model_of(spec.subject_type)  # a mapped model of that name exists


def test_admin_only_types_are_those_about_credentials_endpoints_and_integrations() -> None:
    admin_only = {event_type for event_type, spec in CATALOG.items() if spec.admin_only}
    about_secrets = {
        event_type
        for event_type, spec in CATALOG.items()
        if spec.subject_type in ("ApiKey", "WebhookEndpoint", "Integration")
    }
    assert admin_only == about_secrets


def test_unknown_type_names_are_refused_with_their_position() -> None:
    assert parse_event_types([" key_result.checked_in ", "key_result.checked_in"], "types") == [
        EventType.KEY_RESULT_CHECKED_IN
    ]
    with pytest.raises(DomainError) as refused:
        parse_event_types(["team.created", "keyresult.checkedin", ""], "types")
    assert [(error.field, error.code) for error in refused.value.errors] == [
        (["types", "1"], "INVALID_VALUE"),
        (["types", "2"], "INVALID_VALUE"),
    ]


def payload_models() -> set[str]:
    """Every model whose rows appear in payloads: subjects, links, check-ins."""
    subjects = {spec.subject_type for spec in CATALOG.values()} - PUBLIC_STATE_SUBJECTS
    return subjects | {"InitiativeKeyResult", "CheckIn"}


@pytest.mark.parametrize("type_name", sorted(payload_models()))
def test_no_payload_shows_a_raw_uuid(type_name: str) -> None:
    """Every UUID column but the hidden ones references an object: shown as a global ID."""
    model = model_of(type_name)
    raw = [
        column.key
        for column in model.__table__.columns
        if isinstance(column.type, Uuid)
        and column.key not in HIDDEN_COLUMNS
        and referenced_type(column) is None
    ]
    assert raw == []


def decoded(global_id: str) -> tuple[str, UUID]:
    type_name, raw = from_base64(global_id)
    return type_name, UUID(raw)


def test_references_are_global_ids_of_the_referenced_type() -> None:
    origin, team, cycle = uuid4(), uuid4(), uuid4()
    objective = Objective(id=uuid4(), team_id=team, cycle_id=cycle, origin_id=origin, title="x")
    state = snapshot(objective, "Objective")
    assert decoded(state["originId"]) == ("Objective", origin)  # no foreign key: its `info`
    assert decoded(state["teamId"]) == ("Team", team)
    assert decoded(state["cycleId"]) == ("Cycle", cycle)


def test_the_actor_is_a_global_id() -> None:
    key_id = uuid4()
    principal = Principal(
        organization_id=uuid4(), scopes=frozenset(), actor_id=key_id, actor_name="ci"
    )
    actor = actor_of(principal)
    assert (actor["type"], decoded(actor["id"]), actor["name"]) == (
        "api_key",
        ("ApiKey", key_id),
        "ci",
    )


def test_every_row_deleted_along_with_another_is_told_or_declared_untold() -> None:
    """A new table cascading from a deletable one must say how its deletion is told."""
    unclassified = {
        model.__name__
        for name in REMOVALS
        for model, _ in cascading_references(model_of(name).__table__)
        if model.__name__ not in REMOVALS and model.__name__ not in UNTOLD_REMOVALS
    }
    assert unclassified == set()


def test_a_removal_is_about_a_subject_of_its_type() -> None:
    for model_name, removal in REMOVALS.items():
        subject = CATALOG[removal.event_type].subject_type
        if removal.link_field is None:
            assert subject == model_name
        else:  # a link: it references the subject it is told about
            columns = model_of(model_name).__table__.columns
            assert subject in {referenced_type(column) for column in columns}
