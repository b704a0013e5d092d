"""Counts the SQL statements a target sends, without touching PostgreSQL's configuration.

A TCP proxy in front of PostgreSQL that reads the frontend protocol: every Execute ('E',
extended protocol) and every statement of a simple Query ('Q') is one statement; Sync and
Query messages are round trips. Parse/Bind are followed so each Execute is attributed to its
SQL text. SSL requests are refused so the stream stays readable. Used only in a separate,
untimed pass (the proxy itself costs latency); `pg_stat_statements` would be the other way,
but it needs `shared_preload_libraries` and a server restart.
"""

from __future__ import annotations

import asyncio
import re
import struct
from collections import Counter

SSL_REQUEST = 80877103
GSS_REQUEST = 80877104
CANCEL_REQUEST = 80877102


def normalise(sql: str) -> str:
    text = re.sub(r"\s+", " ", sql).strip()
    return text[:140]


class Counts:
    def __init__(self) -> None:
        self.statements = 0
        self.round_trips = 0
        self.by_text: Counter[str] = Counter()

    def reset(self) -> None:
        self.statements = 0
        self.round_trips = 0
        self.by_text.clear()


class PgProxy:
    def __init__(self, listen_port: int, upstream_host: str = "127.0.0.1", upstream_port: int = 5432) -> None:
        self.listen_port = listen_port
        self.upstream = (upstream_host, upstream_port)
        self.counts = Counts()
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", self.listen_port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.close()
            return
        pump = asyncio.ensure_future(self.pipe(server_r, client_w))
        try:
            await self.frontend(client_r, client_w, server_w)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            server_w.close()
            pump.cancel()
            client_w.close()

    async def pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass

    async def frontend(
        self,
        reader: asyncio.StreamReader,
        client_w: asyncio.StreamWriter,
        server_w: asyncio.StreamWriter,
    ) -> None:
        # Untyped start-up packets first.
        while True:
            head = await reader.readexactly(8)
            length, code = struct.unpack("!ii", head)
            rest = await reader.readexactly(length - 8)
            if code in (SSL_REQUEST, GSS_REQUEST):
                client_w.write(b"N")
                await client_w.drain()
                continue
            server_w.write(head + rest)
            if code == CANCEL_REQUEST:
                return
            break
        statements: dict[bytes, str] = {}
        portals: dict[bytes, str] = {}
        counts = self.counts
        while True:
            head = await reader.readexactly(5)
            kind = head[:1]
            length = struct.unpack("!i", head[1:])[0]
            payload = await reader.readexactly(length - 4)
            server_w.write(head + payload)
            if kind == b"Q":
                sql = payload.rstrip(b"\x00").decode(errors="replace")
                parts = [p for p in sql.split(";") if p.strip()]
                counts.statements += len(parts)
                counts.round_trips += 1
                for part in parts:
                    counts.by_text[normalise(part)] += 1
            elif kind == b"P":
                name, _, rest = payload.partition(b"\x00")
                query, _, _ = rest.partition(b"\x00")
                statements[name] = query.decode(errors="replace")
            elif kind == b"B":
                portal, _, rest = payload.partition(b"\x00")
                statement, _, _ = rest.partition(b"\x00")
                portals[portal] = statements.get(statement, "?")
            elif kind == b"E":
                portal, _, _ = payload.partition(b"\x00")
                counts.statements += 1
                counts.by_text[normalise(portals.get(portal, "?"))] += 1
            elif kind == b"S":
                counts.round_trips += 1
            elif kind == b"X":
                await server_w.drain()
                return
            await server_w.drain()
