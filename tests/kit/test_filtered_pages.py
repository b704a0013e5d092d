"""Pages filtered on what SQL cannot state (a derived figure) are read in batches; a scan
stops after a bounded number of rows and says where to resume, so paging through a large
organisation with a rare filter costs a bounded amount per request and loses nothing."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from okr_service.key_results.models import KeyResult
from okr_service.kit.repository import Page, Window, page
from tests import factories
from tests.conftest import Api


async def every_page(engine: AsyncEngine, api: Api, keep: Any, first: int) -> list[Page]:
    pages, after = [], None
    async with engine.connect() as connection:
        db = AsyncSession(bind=connection)
        while True:
            found = await page(
                db,
                KeyResult,
                api.organization_id,
                Window(first, after),
                keep=keep,
                scan_batch=4,
                max_scanned=8,
            )
            pages.append(found)
            assert len(pages) < 50, "paging never ends"
            if not found.has_next:
                return pages
            after = found.resume_after or found.rows[-1].id


async def test_a_rare_match_is_found_page_after_page_without_loss(
    api: Api, engine: AsyncEngine
) -> None:
    ids = await factories.okr(api)
    for n in range(20):
        await factories.key_result(api, ids["objective"], f"KR {n:02}")

    async def every_fifth(rows: list[Any]) -> list[Any]:
        return [row for row in rows if row.title.endswith(("0", "5"))]

    pages = await every_page(engine, api, every_fifth, first=3)
    titles = [row.title for found in pages for row in found.rows]
    assert titles == ["KR 00", "KR 05", "KR 10", "KR 15"]  # in order, none twice
    assert all(len(found.rows) <= 3 for found in pages)
    assert any(found.resume_after is not None for found in pages)  # the cap was met


async def test_a_filter_nothing_matches_still_ends(api: Api, engine: AsyncEngine) -> None:
    ids = await factories.okr(api)
    for n in range(12):
        await factories.key_result(api, ids["objective"], f"KR {n}")

    async def nothing(rows: list[Any]) -> list[Any]:
        return []

    pages = await every_page(engine, api, nothing, first=2)
    assert [len(found.rows) for found in pages] == [0] * len(pages)
    assert len(pages) == 2  # 13 rows, at most 8 scanned per request
