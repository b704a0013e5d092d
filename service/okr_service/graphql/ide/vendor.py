"""Vendor GraphiQL's assets: `python -m okr_service.graphql.ide.vendor` (needs npm).

For each asset Strawberry's GraphiQL page loads from the CDN, `npm pack` fetches the pinned
package version from the registry (npm checks the tarball against the registry's
integrity), the file is taken from it, checked against the page's Subresource Integrity
hash, and written gzipped to `assets/`. Run it again after a Strawberry upgrade changes
the page's versions; the app refuses any copy that does not match.
"""

import gzip
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from strawberry.http.ides import get_graphql_ide_html

from okr_service.graphql.ide import ASSETS_DIR, cdn_references, sri, vendored_path


def package_and_path(reference: str) -> tuple[str, str]:
    """`@scope/name@1.0.0/dist/x.js` -> (`@scope/name@1.0.0`, `dist/x.js`)."""
    scoped = reference.startswith("@")
    parts = reference.split("/")
    split = 2 if scoped else 1
    return "/".join(parts[:split]), "/".join(parts[split:])


def packed(package: str, into: Path) -> Path:
    # The developer's npm, with a package name from Strawberry's own page.
    output = subprocess.run(  # noqa: S603
        ["npm", "pack", package, "--silent"],  # noqa: S607
        cwd=into,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return into / output.strip().splitlines()[-1]


def vendor() -> None:
    references = cdn_references(get_graphql_ide_html("graphiql"))
    for stale in ASSETS_DIR.rglob("*.gz"):
        stale.unlink()
    with tempfile.TemporaryDirectory() as work:
        tarballs: dict[str, Path] = {}
        for reference, integrity in references.items():
            package, path = package_and_path(reference)
            if package not in tarballs:
                tarballs[package] = packed(package, Path(work))
            with tarfile.open(tarballs[package]) as tarball:
                member = tarball.extractfile(f"package/{path}")
                if member is None:
                    sys.exit(f"{package} has no {path}")
                content = member.read()
            if sri(content) != integrity:
                sys.exit(f"{reference}: {sri(content)} is not the page's {integrity}")
            target = vendored_path(reference)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(gzip.compress(content, compresslevel=9, mtime=0))
            print(f"{reference}  {integrity}  {len(content)} bytes")


if __name__ == "__main__":
    vendor()
