"""The npm tools integrators run on the contracts (package.json beside this file), installed
from the committed lock file once per machine (tests/npm.py), and run as they would run them."""

import functools
import os
import subprocess
from pathlib import Path

from tests import npm

TOOLS = Path(__file__).parent
ROOT = TOOLS.parents[1]


@functools.cache
def installed() -> Path:
    """`node_modules/.bin`, the locked packages in place."""
    return npm.installed(TOOLS) / ".bin"


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
