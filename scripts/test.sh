#!/usr/bin/env bash
# One command to run the whole test suite: installs what is missing, then runs Jest, whose global
# setup starts one Temporal dev server and one throw-away database for the run (src/dev/stack).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
node_modules/.bin/tsc --noEmit -p tsconfig.json
# Layer rules, no floating promises, no I/O in workflow code (eslint.config.mjs); formatting (.prettierrc.json).
node_modules/.bin/eslint --max-warnings 0 .
node_modules/.bin/prettier --check --log-level warn .
exec node_modules/.bin/jest "$@"
