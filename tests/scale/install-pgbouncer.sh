#!/usr/bin/env bash
# Debian's PgBouncer (1.18 on bookworm), for tests/scale: they start their own instance in
# front of the test PostgreSQL; the package's own service is neither needed nor started.
set -euo pipefail
if command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ]; then
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pgbouncer
