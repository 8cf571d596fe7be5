#!/usr/bin/env bash
# Builds the playground and serves it on http://127.0.0.1:${1:-8000}/ until Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/playground/build.sh" "$root/target/playground/site"
exec node "$root/playground/serve.mjs" "$root/target/playground/site" "${1:-8000}"
