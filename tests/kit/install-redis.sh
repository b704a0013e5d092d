#!/usr/bin/env bash
# Debian's Redis server, for the shared rate-limit tests (tests/kit/test_redis_buckets.py):
# they start their own redis-server when no Redis answers, and stop one to see the fallback.
set -euo pipefail
if command -v redis-server >/dev/null; then
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server
