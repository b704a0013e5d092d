#!/usr/bin/env bash
# The one benchmark command: bash bench/run.sh [small|mid|large|xl] [extra args of `python -m bench run`]
# Installs what the bench needs (Python packages into the project's venv, PostGraphile 4.14.1
# from npm into bench/.postgraphile/), then runs every target and workload and writes
# bench/results/<size>-<timestamp>.{json,txt,png} and latest-<size>.*.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE="${1:-small}"
shift || true

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
. .venv/bin/activate
python -c "import okr_service" 2>/dev/null || pip install -q -e '.[dev]'
pip install -q -r bench/requirements.txt

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  if [ ! -f bench/.postgraphile/node_modules/postgraphile/cli.js ]; then
    mkdir -p bench/.postgraphile
    cat > bench/.postgraphile/package.json <<'JSON'
{"name": "okr-bench-postgraphile", "private": true, "version": "0.0.0", "dependencies": {"postgraphile": "4.14.1"}}
JSON
    (cd bench/.postgraphile && npm install --no-audit --no-fund --loglevel=error)
  fi
else
  echo "node/npm not found: PostGraphile will be skipped" >&2
fi

exec python -m bench run --size "$SIZE" "$@"
