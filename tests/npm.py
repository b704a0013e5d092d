"""npm packages the tests run, installed once per machine rather than once per checkout.

`npm ci` of a folder's lock file goes into a shared cache named by the hash of its
package.json and package-lock.json (`$XDG_CACHE_HOME/okr-service/npm/`), and the folder's
node_modules becomes a link to it. A fresh clone, a second CI run or another pytest worker
finds the packages there instead of unpacking them again; a changed lock file gets a new
entry. Installs land in a private folder first and are renamed into place, so processes
installing at once never see a half-written tree.
"""

import hashlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

# npm writes this file last, once the whole tree is in place.
INSTALLED_MARK = Path(".package-lock.json")


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "okr-service" / "npm"


def lock_key(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:16]


def npm_ci(npm: str, folder: Path, destination: Path) -> None:
    """`npm ci` of `folder`'s lock file into `destination` (a folder that must not exist)."""
    staging = destination.with_name(f".{destination.name}.{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(folder / name, staging / name)
        run = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"],
            cwd=staging,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert run.returncode == 0, f"npm ci in {folder} failed:\n{run.stderr[-4000:]}"
        try:
            staging.rename(destination)
        except OSError:
            if not (destination / "node_modules" / INSTALLED_MARK).exists():
                raise  # not another process's finished install: a real failure
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def link(local: Path, target: Path) -> None:
    """Make `local` a link to `target`, replacing a stale link or install atomically."""
    if local.is_symlink() and local.readlink() == target:
        return
    if local.is_dir() and not local.is_symlink():
        shutil.rmtree(local)
    temporary = local.with_name(f".{local.name}.{uuid.uuid4().hex[:8]}")
    temporary.symlink_to(target, target_is_directory=True)
    temporary.replace(local)


def installed(folder: Path) -> Path:
    """`folder`/node_modules holding exactly `folder`/package-lock.json's packages."""
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs Node.js and npm for {folder.name}'s packages")
        pytest.skip("Node.js and npm are not installed")
    shared = cache_root() / f"{folder.name}-{lock_key(folder)}"
    if not (shared / "node_modules" / INSTALLED_MARK).exists():
        npm_ci(npm, folder, shared)
    # Newer than any checkout's lock file: the folder's own scripts (lint-contracts,
    # compose.sh) compare the two and would otherwise install again.
    (shared / "node_modules" / INSTALLED_MARK).touch()
    local = folder / "node_modules"
    link(local, shared / "node_modules")
    return local
