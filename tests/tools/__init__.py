"""The npm tools integrators run on the contracts (package.json beside this file), installed
from the committed lock file once per machine, and run as they would run them."""

import functools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

TOOLS = Path(__file__).parent
ROOT = TOOLS.parents[1]
INSTALLED = TOOLS / "node_modules" / ".package-lock.json"


@functools.cache
def installed() -> Path:
    """`node_modules/.bin`, after `npm ci` when the lock file changed since the last install."""
    if shutil.which("npm") is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Node.js and npm for the contract tools (tests/tools)")
        pytest.skip("Node.js and npm are not installed")
    lock = TOOLS / "package-lock.json"
    if not INSTALLED.exists() or INSTALLED.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=TOOLS,
            check=True,
            timeout=600,
        )
    return TOOLS / "node_modules" / ".bin"


def run(tool: str, *args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run an npm tool; its output is kept for the assertion message."""
    return subprocess.run(
        [str(installed() / tool), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def node(script: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run a Node.js script that imports the tools (resolved from tests/tools/node_modules)."""
    installed()
    return subprocess.run(
        ["node", str(script), *map(str, args)],
        cwd=TOOLS,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NODE_PATH": str(TOOLS / "node_modules")},
    )
