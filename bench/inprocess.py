"""okr-service in this process, on a bench database, behind httpx's ASGI transport (no
sockets, no HTTP parsing): what `cpu` and `explain` measure."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from bench import generate as gen
from bench import workloads


@dataclass
class InProcess:
    meta: dict[str, Any]
    app: Any
    client: httpx.AsyncClient
    headers: dict[str, str]
    loads: dict[str, workloads.Workload]


@asynccontextmanager
async def service(size: str, **environment: str) -> AsyncIterator[InProcess]:
    """The service on `size`'s database (built if missing), with the bench's settings and
    `environment`'s (OKR_* variables) on top."""
    meta = await gen.generate(size, reuse=True)
    bench_settings = {
        "OKR_DATABASE_URL": gen.sqlalchemy_url(gen.database_name(size)),
        "OKR_RATE_LIMIT_PER_SECOND": "0",
        "OKR_MAX_CONCURRENT_REQUESTS_PER_KEY": "0",
        "OKR_HEALTH_SWEEP_INTERVAL_SECONDS": "86400",
        "OKR_LOG_LEVEL": "WARNING",
    }
    os.environ.update({**bench_settings, **environment})
    from okr_service.app import create_app  # after the environment that configures it
    from okr_service.kit.settings import Settings

    app = create_app(Settings(), webhook_worker=False)
    headers = {"Authorization": f"Bearer {meta['api_key']}", "Content-Type": "application/json"}
    loads = {w.key: w for w in workloads.build(meta, None)}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield InProcess(meta, app, client, headers, loads)
