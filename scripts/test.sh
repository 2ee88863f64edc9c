#!/usr/bin/env bash
# One command to run the whole test suite: installs what is missing (Debian's Chromium for the browser
# tests too), builds the workbench page when it changed, type-checks, lints, then runs Jest, whose
# global setup starts one Temporal dev server and one throw-away database for the run (src/dev/stack).
set -euo pipefail
cd "$(dirname "$0")/.."
SETUP_BROWSER=1 source scripts/setup.sh
node_modules/.bin/tsc --noEmit -p tsconfig.json
# The workbench page and its build configuration (browser and Node type settings of their own).
node_modules/.bin/tsc --noEmit -p web/tsconfig.json
node_modules/.bin/tsc --noEmit -p web/tsconfig.node.json
# Layer rules, no floating promises, no I/O in workflow code (eslint.config.mjs); formatting (.prettierrc.json).
node_modules/.bin/eslint --max-warnings 0 .
node_modules/.bin/prettier --check --log-level warn .
# Every repository path and docs anchor cited in the docs and comments exists (src/dev/docReferences.ts).
node_modules/.bin/tsx scripts/check-references.ts
exec node_modules/.bin/jest "$@"
