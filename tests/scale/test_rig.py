"""The multi-replica rig (`python -m bench rig`, bench/rig.py) for a few seconds: PostgreSQL,
a streaming replica, PgBouncer, Redis, 3 API processes and 2 webhook workers, all real.

It takes about half a minute, so it runs under CI=true or when OKR_RIG=1 asks for it.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CANNOT_RUN_HERE = 2  # the rig's exit code when a server cannot be started on this machine

pytestmark = pytest.mark.skipif(
    os.environ.get("CI") != "true" and os.environ.get("OKR_RIG") != "1",
    reason="the rig takes ~30 s: runs under CI=true or OKR_RIG=1",
)


def test_every_check_of_the_rig_holds() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "rig", "--seconds", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    report = done.stdout + done.stderr
    if done.returncode == CANNOT_RUN_HERE and os.environ.get("CI") != "true":
        pytest.skip(report.strip().splitlines()[-1])
    assert done.returncode == 0, report
    assert "[rig] OK" in done.stdout
    assert "lost: 0" in done.stdout
