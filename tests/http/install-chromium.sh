#!/usr/bin/env bash
# Debian's Chromium, for tests/http/test_browser.py (skipped where no chromium is installed).
# Not run by .ci/run: on a fresh machine the download alone takes minutes of CI's budget.
set -euo pipefail
if command -v chromium >/dev/null; then
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
