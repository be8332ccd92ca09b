#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running one-node cluster (as root):
# installs what is missing, builds, and runs `ketch up` in the foreground (Ctrl-C stops it and removes every pod).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
exec node bin/ketch.js up --write-kubeconfig "$@"
