#!/usr/bin/env bash
# Installs what is missing for this repository, idempotently; sourced by scripts/start.sh and
# scripts/test.sh. The Temporal CLI is built on first use by src/dev/temporalDevServer.ts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# npm dependencies, at the versions package-lock.json pins: installed when missing or when the lock
# file changed since the last install. `npm install --no-save` rather than `npm ci`: npm 11 here writes
# lock files without other platforms' optional packages, which `npm ci` then refuses.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] npm install (from package-lock.json)"
  npm install --no-save --no-audit --no-fund --loglevel=error
fi

# The coding agents every sandbox gets (claude, codex, opencode), pinned by agents/package-lock.json.
bash scripts/install-agents.sh

# Prisma Client: generated from prisma/schema.prisma. The CLI wants its native schema engine only to
# be present for `generate`; it cannot be downloaded here, so point it at an existing file
# (docs/ARCHITECTURE.md#build-machine-constraints). Where the real engine exists, this variable is left alone.
if [ ! -f src/generated/prisma/client.ts ] || [ prisma/schema.prisma -nt src/generated/prisma/client.ts ]; then
  echo "[setup] prisma generate"
  PRISMA_SCHEMA_ENGINE_BINARY="${PRISMA_SCHEMA_ENGINE_BINARY:-$(type -P true)}" node_modules/.bin/prisma generate >/dev/null
  touch src/generated/prisma/client.ts
fi

# The workbench page (web/, served by the API at /): built by Vite into web/dist when it is missing or
# when web/, client/ or the installed packages changed since the last build.
if [ ! -f web/dist/index.html ] || [ -n "$(find web client package-lock.json -newer web/dist/index.html -not -path 'web/dist/*' -print -quit)" ]; then
  echo "[setup] building the workbench page (vite build)"
  node_modules/.bin/vite build --config web/vite.config.mts --logLevel warn
fi

# Browser tests (test/browser, run by the test command, which sets SETUP_BROWSER=1) drive Debian's
# Chromium: installed when missing (playwright's own browser download cannot work on this network).
if [ "${SETUP_BROWSER:-0}" = 1 ] && [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[setup] apt-get install chromium (browser tests)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "[setup] the browser tests need Debian's chromium package (/usr/bin/chromium); install it as root" >&2
  fi
fi

# Postgres: the default DATABASE_URL points at the local server; start it when it is installed but down.
# Where none is installed (or it does not come up), nothing fails here: scripts/dev.ts then runs an
# embedded PostgreSQL for the start command (src/dev/embeddedPostgres.ts).
if command -v pg_isready >/dev/null && [ -z "${DATABASE_URL:-}" ] && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_cluster_version=$(ls /etc/postgresql 2>/dev/null | head -n 1 || true)
  if command -v pg_ctlcluster >/dev/null && [ -n "$pg_cluster_version" ]; then
    echo "[setup] starting the local PostgreSQL server"
    pg_ctlcluster --skip-systemctl-redirect "$pg_cluster_version" main start || echo "[setup] the local PostgreSQL server did not start" >&2
  fi
fi

# Sandbox confinement (docs/SECURITY.md): bubblewrap, pasta, iproute2, cgroup-tools and socat from Debian's
# packages, installed when missing unless isolation is switched off (SANDBOX_ISOLATION=none, unsafe).
if [ "${SANDBOX_ISOLATION:-bwrap}" != "none" ]; then
  missing_pkgs=()
  command -v bwrap >/dev/null || missing_pkgs+=(bubblewrap)
  command -v pasta >/dev/null || missing_pkgs+=(passt)
  command -v ip >/dev/null || missing_pkgs+=(iproute2)
  command -v cgexec >/dev/null || missing_pkgs+=(cgroup-tools)
  command -v socat >/dev/null || missing_pkgs+=(socat)
  # The sandboxes' disk limit (SANDBOX_DISK_MB): an ext4 image per sandbox, loop-mounted.
  PATH="$PATH:/usr/sbin:/sbin" command -v mkfs.ext4 >/dev/null || missing_pkgs+=(e2fsprogs)
  if [ "${#missing_pkgs[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "[setup] apt-get install ${missing_pkgs[*]} (sandbox confinement)"
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_pkgs[@]}" >/dev/null
    else
      echo "[setup] sandbox confinement needs the Debian packages: ${missing_pkgs[*]}; install them as root (or set SANDBOX_ISOLATION=none, for development only)" >&2
    fi
  fi
fi
