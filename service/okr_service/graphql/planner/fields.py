"""The fields the compiled read path serves, each for a whole batch of parents at once.

A batch resolver takes every parent object of one type met at one level of the response
and returns one value per parent, with one SQL statement per relation (the same domain
service reads the per-field resolvers' DataLoaders use) and the same figures (the same
domain service functions). Plain attributes (scalars, enums, embedded objects) need no
entry here; a field with neither is not served: the whole operation runs through
Strawberry instead.
"""

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.alignment import service as alignment
from okr_service.cycles import service as cycles
from okr_service.cycles.models import Cycle as CycleModel
from okr_service.graphql.context import Context
from okr_service.graphql.key_results.types import remember_figures, remembered_figures
from okr_service.graphql.nodes import (
    page_connection,
    page_window,
    positions_page,
    rows_connection,
)
from okr_service.initiatives.models import Initiative as InitiativeModel
from okr_service.key_results import service as key_results
from okr_service.key_results.models import KeyResult as KeyResultModel
from okr_service.kit.models import TenantMixin
from okr_service.kit.repository import ParentRows, rows_by_ids
from okr_service.objectives import service as objectives
from okr_service.objectives.models import Objective as ObjectiveModel
from okr_service.okr.enums import AlignmentKind
from okr_service.okr.figures import (
    NOTHING_MEASURED,
    CycleDates,
    KeyResultFigures,
    ObjectiveFigures,
    ProgressMemo,
)
from okr_service.okr.report import KeyResultLine
from okr_service.teams import service as teams
from okr_service.teams.models import Team as TeamModel


@dataclass
class Run:
    """One compiled read: the request's context and what its levels share."""

    context: Context
    memo: dict[str, dict[Any, Any]] = field(default_factory=dict)
    # Key results' progress, shared by their own figures and their objectives'.
    progress: ProgressMemo = field(default_factory=ProgressMemo)
    # The fields asked of each type at the level being completed (its latest level).
    asked: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def db(self) -> AsyncSession:
        return self.context.db

    @property
    def organization_id(self) -> UUID:
        return self.context.principal.organization_id

    def remembered(self, name: str) -> dict[Any, Any]:
        """A per-run cache of values by key (rows by ID, figures by ID)."""
        return self.memo.setdefault(name, {})


@dataclass(frozen=True, slots=True)
class Typed:
    """A row where the schema expects an interface or a union: its concrete type."""

    type_name: str
    row: Any


BatchResolver = Callable[[Run, list[Any], dict[str, Any]], Awaitable[list[Any]]]
Batch = Callable[[AsyncSession, UUID, list[UUID]], Awaitable[dict[UUID, Any]]]
RESOLVERS: dict[tuple[str, str], BatchResolver] = {}


def unique(ids: Iterable[UUID | None]) -> list[UUID]:
    return [id_ for id_ in dict.fromkeys(ids) if id_ is not None]


# What a run keeps besides rows by table: each objective's key results and the alignment
# links it starts (read alone or with the objective's figure inputs).
KEY_RESULTS_BY_OBJECTIVE, LINKS_FROM_OBJECTIVE = "key_results_by_objective", "links_from"


async def remembered_reads(
    run: Run, name: str, ids: Iterable[UUID | None], batch: Batch
) -> dict[UUID, Any]:
    """What `batch` reads for each of `ids`, kept in the run under `name`: one statement
    for those not read before in this run."""
    known = run.remembered(name)
    missing = [id_ for id_ in unique(ids) if id_ not in known]
    if missing:
        known.update(await batch(run.db, run.organization_id, missing))
    return known


async def rows_of(
    run: Run, model: type[TenantMixin], ids: Iterable[UUID | None]
) -> dict[UUID, Row[Any]]:
    """Rows of `model` by ID: one statement for those not read before in this run."""
    return await remembered_reads(
        run,
        model.__tablename__,  # type: ignore[attr-defined]
        ids,
        lambda db, organization_id, missing: rows_by_ids(db, model, organization_id, missing),
    )


def one(model: type[TenantMixin], column: str) -> BatchResolver:
    """The row each parent references by `column` (None where it references none)."""

    async def resolve(run: Run, parents: list[Any], _: dict[str, Any]) -> list[Any]:
        rows = await rows_of(run, model, (getattr(p, column) for p in parents))
        return [rows.get(getattr(p, column)) for p in parents]

    return resolve


def many(batch: Batch) -> BatchResolver:
    """The rows a service read groups under each parent's ID."""

    async def resolve(run: Run, parents: list[Any], _: dict[str, Any]) -> list[Any]:
        groups = await batch(run.db, run.organization_id, unique(p.id for p in parents))
        return [groups.get(p.id) or [] for p in parents]

    return resolve


for key, resolver in {
    ("Objective", "team"): one(TeamModel, "team_id"),
    ("Objective", "cycle"): one(CycleModel, "cycle_id"),
    ("Objective", "origin"): one(ObjectiveModel, "origin_id"),
    ("KeyResult", "team"): one(TeamModel, "team_id"),
    ("KeyResult", "objective"): one(ObjectiveModel, "objective_id"),
    ("CheckIn", "keyResult"): one(KeyResultModel, "key_result_id"),
    ("InitiativeLink", "initiative"): one(InitiativeModel, "initiative_id"),
    ("InitiativeLink", "keyResult"): one(KeyResultModel, "key_result_id"),
    ("Initiative", "team"): one(TeamModel, "team_id"),
    ("Team", "parent"): one(TeamModel, "parent_id"),
    ("Cycle", "parent"): one(CycleModel, "parent_id"),
    ("Objective", "initiatives"): many(objectives.initiatives_of),
    ("AlignmentLink", "source"): one(ObjectiveModel, "source_objective_id"),
    ("AlignmentLink", "targetObjective"): one(ObjectiveModel, "target_objective_id"),
    ("AlignmentLink", "targetKeyResult"): one(KeyResultModel, "target_key_result_id"),
}.items():
    RESOLVERS[key] = resolver


async def key_result_rows(run: Run, objective_ids: Iterable[UUID]) -> dict[UUID, Any]:
    """Each objective's key result rows, read once per run (its `keyResults` and its
    figures both need them)."""
    return await remembered_reads(
        run, KEY_RESULTS_BY_OBJECTIVE, objective_ids, objectives.key_results_by_objective
    )


async def objective_key_results(run: Run, parents: list[Any], _: dict[str, Any]) -> list[Any]:
    rows = await key_result_rows(run, (p.id for p in parents))
    return [rows.get(p.id) or [] for p in parents]


# A key result's fields whose rows one statement reads together (`key_result_details`).
LATEST_CHECK_IN, INITIATIVE_LINKS = "latestCheckIn", "initiativeLinks"
LINKS_READERS = frozenset({INITIATIVE_LINKS, "initiatives"})


async def key_result_details(run: Run, ids: list[UUID]) -> key_results.Details:
    """The latest check-ins and initiative links of key results, kept per run: the first
    of the level's fields to ask reads what its other fields ask too, in one statement."""
    latest = run.remembered("latest_check_ins")
    links = run.remembered("initiative_links")
    asked = run.asked.get("KeyResult", frozenset())
    read_latest = LATEST_CHECK_IN in asked and any(id_ not in latest for id_ in ids)
    read_links = not LINKS_READERS.isdisjoint(asked) and any(id_ not in links for id_ in ids)
    if read_latest or read_links:
        found = await key_results.details_of(
            run.db, run.organization_id, ids, latest=read_latest, links=read_links
        )
        if read_latest:
            latest.update({id_: found.latest_check_ins.get(id_) for id_ in ids})
        links.update(found.initiative_links)
    return key_results.Details(latest, links)


async def latest_check_in(run: Run, parents: list[Any], _: dict[str, Any]) -> list[Any]:
    found = await key_result_details(run, unique(p.id for p in parents))
    return [found.latest_check_ins.get(p.id) for p in parents]


async def initiative_links(run: Run, parents: list[Any], _: dict[str, Any]) -> list[Any]:
    found = await key_result_details(run, unique(p.id for p in parents))
    return [found.initiative_links.get(p.id) or [] for p in parents]


# An objective's fields that read the alignment links it starts (read with its figure
# inputs when the level asks for both).
LINKS_FROM_READERS = frozenset({"contributesTo", "alignmentLinks"})


async def links_from(run: Run, ids: list[UUID]) -> dict[UUID, list[Any]]:
    """The alignment links each objective starts, kept per run."""
    return await remembered_reads(run, LINKS_FROM_OBJECTIVE, ids, alignment.links_from)


async def alignment_links(run: Run, parents: list[Any], _: dict[str, Any]) -> list[Any]:
    found = await links_from(run, unique(p.id for p in parents))
    return [found.get(p.id) or [] for p in parents]


async def contributes_to(run: Run, parents: list[Any], _: dict[str, Any]) -> list[Any]:
    """Objectives, then key results, each parent contributes to (as `Objective.contributesTo`)."""
    links = await links_from(run, unique(p.id for p in parents))
    contributing = {
        p.id: [link for link in links.get(p.id) or [] if link.kind is AlignmentKind.CONTRIBUTES_TO]
        for p in parents
    }
    every = [link for group in contributing.values() for link in group]
    objective_rows = await rows_of(
        run, ObjectiveModel, (link.target_objective_id for link in every)
    )
    key_result_rows = await rows_of(
        run, KeyResultModel, (link.target_key_result_id for link in every)
    )
    found = []
    for parent in parents:
        group = contributing[parent.id]
        targets = unique(link.target_objective_id for link in group)
        supported = unique(link.target_key_result_id for link in group)
        found.append(
            [Typed("Objective", objective_rows[id_]) for id_ in targets if id_ in objective_rows]
            + [
                Typed("KeyResult", key_result_rows[id_])
                for id_ in supported
                if id_ in key_result_rows
            ]
        )
    return found


async def key_result_initiatives(run: Run, parents: list[Any], _: dict[str, Any]) -> list[Any]:
    """The initiatives linked to each key result, in link order, each once."""
    links = (await key_result_details(run, unique(p.id for p in parents))).initiative_links
    linked = {p.id: unique(link.initiative_id for link in links.get(p.id) or []) for p in parents}
    rows = await rows_of(run, InitiativeModel, (i for ids in linked.values() for i in ids))
    return [[rows[i] for i in linked[p.id] if i in rows] for p in parents]


async def objectives_with_figure_inputs(run: Run, ids: Iterable[UUID]) -> dict[UUID, Any]:
    """Objectives' rows, their key results and cycles read with them in one statement and
    kept for what asks next (their figures, their `keyResults`)."""
    links = not LINKS_FROM_READERS.isdisjoint(run.asked.get("Objective", ()))
    found = await objectives.with_figure_inputs(
        run.db, run.organization_id, unique(ids), links=links
    )
    rows = run.remembered(ObjectiveModel.__tablename__)
    key_results = run.remembered(KEY_RESULTS_BY_OBJECTIVE)
    cycles = run.remembered(CycleModel.__tablename__)
    links_from = run.remembered(LINKS_FROM_OBJECTIVE)
    for id_, inputs in found.items():
        rows.setdefault(id_, inputs.objective)
        key_results.setdefault(id_, inputs.key_results)
        cycles.setdefault(inputs.cycle.id, inputs.cycle)
        if inputs.links_from is not None:
            links_from.setdefault(id_, inputs.links_from)
    return {id_: rows[id_] for id_ in found}


async def objective_figures(run: Run, parents: list[Any]) -> list[ObjectiveFigures]:
    """Each objective's figures, from its row, its cycle's and its key results' (read
    together when this run has not read them yet)."""
    known = run.remembered("objective_figures")
    missing = {p.id: p for p in parents if p.id not in known}
    if missing:
        key_results = run.remembered(KEY_RESULTS_BY_OBJECTIVE)
        cycles = run.remembered(CycleModel.__tablename__)
        if any(
            id_ not in key_results or row.cycle_id not in cycles for id_, row in missing.items()
        ):
            await objectives_with_figure_inputs(run, missing)
        dated = [(row, CycleDates.of(cycles[row.cycle_id])) for row in missing.values()]
        known.update(
            await objectives.figures_of_read(
                run.db,
                run.organization_id,
                dated,
                run.context.now,
                key_results=key_results,
                progress_of=run.progress,
            )
        )
    return [known.get(p.id, NOTHING_MEASURED) for p in parents]


async def key_result_figures(run: Run, parents: list[Any]) -> list[KeyResultFigures]:
    """Each key result's figures at the request's moment, once per run (as the per-field
    resolvers keep them by ID): those its reader computed already (a report's lines), else
    from its cycle's dates read through its objective (two statements, as the per-field
    resolvers' loaders read them)."""
    known = run.remembered("key_result_figures")
    missing = []
    for parent in parents:
        if parent.id not in known:
            found = remembered_figures(run.context, parent.id)
            if found is None:
                missing.append(parent)
            else:
                known[parent.id] = found
    if missing:
        objective_rows = await rows_of(run, ObjectiveModel, (p.objective_id for p in missing))
        cycle_ids = {p.id: objective_rows[p.objective_id].cycle_id for p in missing}
        cycle_rows = await rows_of(run, CycleModel, cycle_ids.values())
        dates = {id_: CycleDates.of(cycle_rows[id_]) for id_ in unique(cycle_ids.values())}
        now = run.context.now
        for parent in missing:
            cycle = dates[cycle_ids[parent.id]]
            known[parent.id] = key_results.figures_of(parent, cycle, now, run.progress)
    return [known[p.id] for p in parents]


def figure(of: Callable[[Run, list[Any]], Awaitable[list[Any]]], attribute: str) -> BatchResolver:
    async def resolve(run: Run, parents: list[Any], _: dict[str, Any]) -> list[Any]:
        return [getattr(found, attribute) for found in await of(run, parents)]

    return resolve


async def impact_coverage(run: Run, parents: list[Any], _: dict[str, Any]) -> list[Any]:
    bets = await key_results.bets_of(run.db, run.organization_id, unique(p.id for p in parents))
    return [key_results.coverage_of(p, bets.get(p.id) or []) for p in parents]


RESOLVERS[("Objective", "keyResults")] = objective_key_results
RESOLVERS[("KeyResult", LATEST_CHECK_IN)] = latest_check_in
RESOLVERS[("KeyResult", INITIATIVE_LINKS)] = initiative_links
RESOLVERS[("KeyResult", "initiatives")] = key_result_initiatives
RESOLVERS[("KeyResult", "impactCoverage")] = impact_coverage
RESOLVERS[("Objective", "contributesTo")] = contributes_to
RESOLVERS[("Objective", "alignmentLinks")] = alignment_links
FIGURES = {
    "progress": "progress",
    "score": "score",
    "expectedProgress": "expected_progress",
    "health": "health",
    "healthReason": "health_reason",
}
# An objective's fields that read its key results and its cycle.
READS_FIGURE_INPUTS = frozenset({*FIGURES, "keyResults"})
for graphql_name, attribute in FIGURES.items():
    RESOLVERS[("Objective", graphql_name)] = figure(objective_figures, attribute)
    RESOLVERS[("KeyResult", graphql_name)] = figure(key_result_figures, attribute)
RESOLVERS[("KeyResult", "achieved")] = figure(key_result_figures, "achieved")


@dataclass(frozen=True, slots=True)
class ChildCount:
    """The `totalCount` of one parent's page of `rows`: `total_count` counts those of a
    whole level in one statement; called alone, it counts this parent's list."""

    run: Run
    rows: ParentRows
    parent_id: UUID

    async def __call__(self) -> int:
        run = self.run
        counted = await self.rows.counts(run.db, run.organization_id, [self.parent_id])
        return counted[self.parent_id]


def child_pages(rows: ParentRows) -> BatchResolver:
    """A page of each parent's list, as the resolvers' `child_connection` reads it (one
    statement for the whole level), with its cursors and page info; nodes stay rows. Bad
    arguments raise the reference path's errors: Strawberry then answers the request."""

    async def resolve(run: Run, parents: list[Any], args: dict[str, Any]) -> list[Any]:
        after = args.get("after")
        window = page_window(args.get("first"), after, limit=run.context.settings.max_page_size)
        pages = await rows.pages(run.db, run.organization_id, unique(p.id for p in parents), window)
        return [
            rows_connection(pages[p.id], after, ChildCount(run, rows, p.id), as_is) for p in parents
        ]

    return resolve


def as_is(row: Any) -> Any:
    return row


async def total_count(run: Run, connections: list[Any], _: dict[str, Any]) -> list[Any]:
    """Each connection's `totalCount`: one COUNT per list for a level's child connections,
    the root's own count (or a report list's length) otherwise."""
    parents: dict[ParentRows, list[UUID]] = {}
    for connection in connections:
        if isinstance(counter := connection.counter, ChildCount):
            parents.setdefault(counter.rows, []).append(counter.parent_id)
    counted = {
        rows: await rows.counts(run.db, run.organization_id, unique(ids))
        for rows, ids in parents.items()
    }
    return [
        counted[counter.rows][counter.parent_id]
        if isinstance(counter := connection.counter, ChildCount)
        else await counter()
        for connection in connections
    ]


async def at_risk(run: Run, reports: list[Any], args: dict[str, Any]) -> list[Any]:
    """A page of each report's key results at risk, as the resolver pages them: read whole
    (the report read only what its figures need), their figures the report's."""
    limit = run.context.settings.max_page_size
    first, after = args.get("first"), args.get("after")
    pages = [positions_page(report.at_risk_lines, first, after, limit=limit) for report in reports]
    shown = [line for chosen, _ in pages for _, line in chosen]
    for line in shown:
        remember_figures(run.context, line.key_result.id, line.figures)
    # Read even if this run has read some already: one statement, whatever came before.
    ids = unique(line.key_result.id for line in shown)
    rows = await rows_by_ids(run.db, KeyResultModel, run.organization_id, ids) if ids else {}

    def row_of(line: KeyResultLine) -> Any:
        return rows[line.key_result.id]

    return [
        page_connection(
            [(cursor, line) for cursor, line in chosen if line.key_result.id in rows],
            page_info,
            len(report.at_risk_lines),
            row_of,
        )
        for report, (chosen, page_info) in zip(reports, pages, strict=True)
    ]


for key, resolver in {
    ("Team", "children"): child_pages(teams.CHILDREN),
    ("Team", "objectives"): child_pages(teams.OBJECTIVES),
    ("Cycle", "children"): child_pages(cycles.CHILDREN),
    ("Cycle", "objectives"): child_pages(cycles.OBJECTIVES),
    ("KeyResult", "checkIns"): child_pages(key_results.CHECK_INS),
    ("KeyResult", "history"): child_pages(key_results.HISTORY),
    ("KeyResult", "contributors"): child_pages(alignment.KEY_RESULT_CONTRIBUTORS),
    ("Objective", "contributors"): child_pages(alignment.CONTRIBUTORS),
    ("Objective", "dependents"): child_pages(alignment.DEPENDENTS),
    ("Objective", "incomingAlignmentLinks"): child_pages(alignment.INCOMING_LINKS),
    ("CycleReport", "atRisk"): at_risk,
}.items():
    RESOLVERS[key] = resolver
# Every connection of the types this path serves (Strawberry names them `<Node>Connection`).
for node in ("Objective", "KeyResult", "CheckIn", "Team", "Cycle", "Initiative", "AlignmentLink"):
    RESOLVERS[(f"{node}Connection", "totalCount")] = total_count
