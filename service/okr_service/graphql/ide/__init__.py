"""GraphiQL without the internet: Strawberry's GraphiQL page, its scripts and styles served
by the service itself instead of a CDN.

The page names each asset by npm package, version and path, with the Subresource
Integrity hash Strawberry recorded for it. The vendored copies (`assets/`, gzipped, made
by `python -m okr_service.graphql.ide.vendor` from the npm registry) are checked against those
hashes when the app starts, and the browser checks them again (the page keeps its
`integrity` attributes). A copy that does not match is never served: the IDE then answers
503 with the reason, and the API is unaffected.
"""

import base64
import gzip
import hashlib
import logging
import re
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.http.ides import get_graphql_ide_html

logger = logging.getLogger(__name__)

CDN = "https://unpkg.com/"
ASSETS_PATH = "/graphiql/assets"  # outside /graphql: no key, no rate limit on static files
ASSETS_DIR = Path(__file__).parent / "assets"
# `src="https://unpkg.com/<package>@<version>/<path>" integrity="sha384-..."`
REFERENCE = re.compile(r'(?:src|href)="https://unpkg\.com/([^"]+)"\s+integrity="(sha384-[^"]+)"')
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
FOREVER = "public, max-age=31536000, immutable"  # the path names the version
GZIP_FRAMING = 31  # zlib's wbits for a gzip stream
INFLATE_CHUNK = 64 * 1024  # compressed bytes inflated at a time


def cdn_references(page: str) -> dict[str, str]:
    """Each asset the page loads from the CDN (`<package>@<version>/<path>`) and its hash."""
    return dict(REFERENCE.findall(page))


def sri(content: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()


def sri_of_gzipped(gzipped: bytes) -> str:
    """`sri` of what `gzipped` holds, inflated a piece at a time: the 3 MB script is never
    whole in memory (the allocator would keep the pages it took). EOFError if truncated."""
    digest = hashlib.sha384()
    inflate = zlib.decompressobj(wbits=GZIP_FRAMING)
    view = memoryview(gzipped)
    for start in range(0, len(view), INFLATE_CHUNK):
        digest.update(inflate.decompress(view[start : start + INFLATE_CHUNK]))
    if not inflate.eof:
        raise EOFError("the gzip stream ends early")
    return "sha384-" + base64.b64encode(digest.digest()).decode()


def vendored_path(reference: str) -> Path:
    return ASSETS_DIR / (reference + ".gz")


@dataclass(frozen=True)
class Asset:
    """Kept gzipped only (1 MB instead of 5 per worker): browsers take gzip; the rare
    client that does not gets it decompressed on the spot."""

    gzipped: bytes
    media_type: str

    def content(self) -> bytes:
        return gzip.decompress(self.gzipped)


class OfflineGraphiQL:
    def __init__(self, page: str, assets: dict[str, Asset], problem: str | None) -> None:
        self.page = page
        self.assets = assets
        self.problem = problem

    @classmethod
    @cache
    def load(cls) -> "OfflineGraphiQL":
        """The page with local asset URLs, and every asset checked against its hash (once
        per process: the assets never change while it runs)."""
        page = get_graphql_ide_html("graphiql")
        assets: dict[str, Asset] = {}
        for reference, integrity in cdn_references(page).items():
            try:
                gzipped = vendored_path(reference).read_bytes()
                found = sri_of_gzipped(gzipped)
            except (OSError, EOFError, zlib.error) as error:
                return cls.unavailable(page, f"{reference} is not vendored ({error}).")
            if found != integrity:
                return cls.unavailable(page, f"{reference} does not match {integrity}.")
            media_type = TYPES.get(Path(reference).suffix, "application/octet-stream")
            assets[reference] = Asset(gzipped, media_type)
        if CDN not in page:
            return cls.unavailable(page, "The GraphiQL page no longer loads its assets by CDN.")
        return cls(page.replace(CDN, ASSETS_PATH + "/"), assets, None)

    @classmethod
    def unavailable(cls, page: str, problem: str) -> "OfflineGraphiQL":
        logger.error(
            "GraphiQL is unavailable: %s Run `python -m okr_service.graphql.ide.vendor`.", problem
        )
        return cls(page, {}, problem)

    def page_response(self) -> Response:
        if self.problem is not None:
            return Response(f"GraphiQL is unavailable: {self.problem}", status_code=503)
        return HTMLResponse(self.page)

    async def serve_asset(self, request: Request) -> Response:
        asset = self.assets.get(request.path_params["path"])
        if asset is None:
            return Response("Not Found", status_code=404)
        headers = {"Cache-Control": FOREVER, "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
        return Response(asset.content(), media_type=asset.media_type, headers=headers)
