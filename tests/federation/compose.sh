#!/bin/sh
# Composes okr-service's subgraph with the sample roadmap subgraph (roadmap.graphql) as a
# federation router's build step does, and prints the supergraph (JSON: supergraphSdl, hints).
# The SDL is the one `_service { sdl }` serves with OKR_FEDERATION=true, printed from the
# code: run it from the project's Python environment, with Node.js at hand.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
sdl="$(mktemp)"
trap 'rm -f "$sdl"' EXIT
python -c "from okr_service.graphql.federation import federated_schema as s; print(s().as_str())" >"$sdl"
cd "$here/../tools"
if [ ! -e node_modules/.package-lock.json ]; then
  # The tests link node_modules to a shared install (tests/npm.py): npm ci would empty it.
  if [ -L node_modules ]; then rm node_modules; fi
  npm ci --no-audit --no-fund --loglevel=error
fi
node "$here/compose.mjs" "$sdl" "$here/roadmap.graphql"
