#!/usr/bin/env bash
# Debian's Chromium, for tests/http/test_browser.py: run by the test itself under CI=true
# (where every test must run) when chromium is missing; elsewhere the test is skipped.
set -euo pipefail
if command -v chromium >/dev/null; then
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
