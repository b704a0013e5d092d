"""GraphiQL's assets come from the service, each matching the hash its page records; a copy
that does not match is never served."""

import gzip
import re
import shutil
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from okr_service.graphql import ide
from okr_service.graphql.ide import ASSETS_PATH, OfflineGraphiQL, sri

PAGE = {"Accept": "text/html"}


async def test_the_page_loads_every_asset_from_the_service_with_its_hash(
    http: httpx.AsyncClient,
) -> None:
    page = (await http.get("/graphql", headers=PAGE)).text
    assert "unpkg.com" not in page
    assets = re.findall(r'(?:src|href)="([^"]+)"\s+integrity="(sha384-[^"]+)"', page)
    assert len(assets) == 7  # React, ReactDOM, js-cookie, GraphiQL (JS, CSS), explorer (JS, CSS)
    for url, integrity in assets:
        assert url.startswith(f"{ASSETS_PATH}/")
        response = await http.get(url, headers={"Accept-Encoding": "identity"})
        assert response.status_code == 200
        assert sri(response.content) == integrity
        assert "immutable" in response.headers["cache-control"]


async def test_assets_go_gzipped_to_clients_that_take_it(
    http: httpx.AsyncClient, app: FastAPI
) -> None:
    url = f"{ASSETS_PATH}/graphiql@3.8.3/graphiql.min.js"
    response = await http.get(url, headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"].startswith("text/javascript")
    assert len(response.content) > 3_000_000  # httpx decoded it: the whole script
    missing = await http.get(f"{ASSETS_PATH}/graphiql@3.8.3/../../../pyproject.toml")
    assert missing.status_code == 404


def test_a_tampered_copy_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "assets"
    shutil.copytree(ide.ASSETS_DIR, copy)
    script = copy / "graphiql@3.8.3" / "graphiql.min.js.gz"
    content = gzip.decompress(script.read_bytes())
    script.write_bytes(gzip.compress(content.replace(b"GraphiQL", b"GraphiQl", 1)))
    monkeypatch.setattr(ide, "ASSETS_DIR", copy)
    loaded = OfflineGraphiQL.load.__wrapped__(OfflineGraphiQL)  # type: ignore[attr-defined]
    assert loaded.problem is not None
    assert "graphiql@3.8.3/graphiql.min.js does not match" in loaded.problem
    assert loaded.assets == {}
    response = loaded.page_response()
    assert response.status_code == 503


def test_a_missing_copy_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ide, "ASSETS_DIR", tmp_path)
    loaded = OfflineGraphiQL.load.__wrapped__(OfflineGraphiQL)  # type: ignore[attr-defined]
    assert loaded.problem is not None
    assert "is not vendored" in loaded.problem


def test_a_truncated_copy_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "assets"
    shutil.copytree(ide.ASSETS_DIR, copy)
    script = copy / "graphiql@3.8.3" / "graphiql.min.js.gz"
    script.write_bytes(script.read_bytes()[:100_000])
    monkeypatch.setattr(ide, "ASSETS_DIR", copy)
    loaded = OfflineGraphiQL.load.__wrapped__(OfflineGraphiQL)  # type: ignore[attr-defined]
    assert loaded.problem is not None
    assert "graphiql@3.8.3/graphiql.min.js is not vendored" in loaded.problem
    assert loaded.assets == {}
