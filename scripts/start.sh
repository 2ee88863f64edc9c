#!/usr/bin/env bash
# One command to run the service locally: installs what is missing, then starts the Temporal dev
# server (Web UI on :8233), ensures the database and applies migrations, and runs the worker and the
# API (:3000). With DATABASE_URL unset and no PostgreSQL server answering at the default URL (or with
# --embedded-postgres), it runs an embedded PostgreSQL (data in .data/postgres) and prints its URL.
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec node_modules/.bin/tsx scripts/dev.ts "$@"
