#!/usr/bin/env bash
# Installs the coding agents every sandbox gets (src/domain/agents.ts) into AGENTS_DIR (default
# /var/lib/task-provisioning/agents, beside the default SANDBOX_ROOT: the sandboxes' uid must be able
# to reach it, which a checkout under a private directory would not allow), at the versions
# agents/package-lock.json pins, when missing or when the pins changed.
# Run by scripts/setup.sh, so the start and test commands both run it; safe to run on its own.
#
# Layout it leaves (mounted read-only into every sandbox at /opt/agents, bin/ first on its PATH):
#   node_modules/   the npm packages (about 1.1 GB)
#   bin/            the executables sandbox-agent 0.4.2 looks for on PATH: claude + claude-agent-acp
#                   (agent claude), codex + codex-acp (agent codex), opencode (agent opencode)
#   etc/            codex's managed config and claude's managed settings (agents/etc): model requests
#                   go to the egress proxy, no approvals (the sandbox is the boundary)
#   versions.json   what is installed, for the README and the logs
#
# npm here runs no install scripts (npm 11 asks for approval), so none is relied on: claude-code's and
# opencode-ai's postinstall only copy their platform's native binary over a placeholder; bin/ links
# that native binary (from the platform package npm installs as an optional dependency) directly.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

agents_dir="${AGENTS_DIR:-/var/lib/task-provisioning/agents}"
stamp="$agents_dir/versions.json"
# Made with parents the sandboxes' uid can pass through (0711), as the sandbox root is.
if ! (umask 066 && mkdir -p "$(dirname "$agents_dir")" && chmod o+x "$(dirname "$agents_dir")" && mkdir -p "$agents_dir") 2>/dev/null; then
  echo "[agents] cannot make $agents_dir (run as root, or set AGENTS_DIR); real agents stay uninstalled" >&2
  exit 0
fi
chmod 755 "$agents_dir"
for dir in "$(dirname "$agents_dir")" "$(dirname "$(dirname "$agents_dir")")"; do
  [ "$(( $(stat -c '%a' "$dir") % 2 ))" = 1 ] || echo "[agents] warning: $dir is not searchable by others; sandboxes will not see the agents" >&2
done
# The agents' settings for life in a sandbox (mounted at /etc/codex and /etc/claude-code): always copied.
rm -rf "$agents_dir/etc.new" && cp -R agents/etc "$agents_dir/etc.new" && chmod -R a+rX,go-w "$agents_dir/etc.new"
rm -rf "$agents_dir/etc" && mv "$agents_dir/etc.new" "$agents_dir/etc"
if [ -f "$stamp" ] && [ ! agents/package-lock.json -nt "$stamp" ] && [ ! agents/package.json -nt "$stamp" ]; then
  exit 0
fi

case "$(uname -m)" in
  x86_64) platform=linux-x64 ;;
  aarch64) platform=linux-arm64 ;;
  *) echo "[agents] no agent builds for $(uname -m); agents stay uninstalled" >&2; exit 0 ;;
esac

echo "[agents] installing claude, codex and opencode into $agents_dir (npm, about 1 GB; once)"
cp agents/package.json agents/package-lock.json "$agents_dir/"
(cd "$agents_dir" && npm install --no-save --no-audit --no-fund --loglevel=error --ignore-scripts)

nm="$agents_dir/node_modules"
codex_triple=$([ "$platform" = linux-x64 ] && echo x86_64-unknown-linux-musl || echo aarch64-unknown-linux-musl)
mkdir -p "$agents_dir/bin.new"
ln -sfn "../node_modules/@anthropic-ai/claude-code-$platform/claude" "$agents_dir/bin.new/claude"
ln -sfn "../node_modules/@zed-industries/claude-agent-acp/dist/index.js" "$agents_dir/bin.new/claude-agent-acp"
ln -sfn "../node_modules/@openai/codex-$platform/vendor/$codex_triple/bin/codex" "$agents_dir/bin.new/codex"
ln -sfn "../node_modules/@zed-industries/codex-acp-$platform/bin/codex-acp" "$agents_dir/bin.new/codex-acp"
ln -sfn "../node_modules/opencode-$platform/bin/opencode" "$agents_dir/bin.new/opencode"
for exe in "$agents_dir"/bin.new/*; do
  [ -x "$exe" ] || { echo "[agents] $(basename "$exe") is missing after the install ($(readlink "$exe"))" >&2; exit 1; }
done
rm -rf "$agents_dir/bin" && mv "$agents_dir/bin.new" "$agents_dir/bin"
# Everything readable by the sandboxes' uid (read-only for it: the mount is read-only too).
chmod -R a+rX,go-w "$agents_dir"

node -e '
  const fs = require("fs"), path = require("path");
  const dir = process.argv[1], deps = require(path.resolve("agents/package.json")).dependencies;
  const installed = Object.fromEntries(Object.keys(deps).map((n) => [n, require(path.join(dir, "node_modules", n, "package.json")).version]));
  fs.writeFileSync(path.join(dir, "versions.json"), JSON.stringify(installed, null, 2) + "\n");
  console.log("[agents] installed " + Object.entries(installed).map(([n, v]) => n + "@" + v).join(", "));
' "$agents_dir"
