#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for ketch (as root), then the npm dependencies and the build.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(etcd-server etcd-client runc busybox-static docker-registry containerd containernetworking-plugins skopeo buildah fuse-overlayfs iproute2 iptables procps kmod util-linux ca-certificates python3-minimal python3-kubernetes nghttp2-client dnsutils dnsperf nftables conntrack apache2-utils openssl perl attr)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "ketch: these Debian packages are missing: ${missing[*]}; run this script as root (sudo $0)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# kubectl 1.20, the oldest Debian has (kubernetes-client), for test/clients/kubectl-1.20.test.ts: unpacked to
# /opt/ketch/kubectl-1.20, not installed, since its /usr/bin/kubectl would replace the 1.32 one the tests use.
OLD_KUBECTL=/opt/ketch/kubectl-1.20/kubectl
if [ ! -x "$OLD_KUBECTL" ] && [ "$(id -u)" = 0 ]; then
  deb_dir=$(mktemp -d)
  (cd "$deb_dir" && { apt-get download -qq kubernetes-client 2>/dev/null || { apt-get update -qq && apt-get download -qq kubernetes-client; }; })
  dpkg-deb -x "$deb_dir"/kubernetes-client_*.deb "$deb_dir/root"
  install -D -m 0755 "$deb_dir/root/usr/bin/kubectl" "$OLD_KUBECTL"
  rm -rf "$deb_dir"
fi
# Debian starts services from these packages; ketch runs its own etcd and registry when it needs them.
for svc in etcd docker-registry containerd; do
  systemctl disable --now "$svc" >/dev/null 2>&1 || true
done

# npm ci (which also rebuilds the native SQLite module) only when node_modules is missing or was installed from another
# package-lock.json or for another Node ABI; the build only when a source file is newer than the last build. A second
# run of the quick start so starts the cluster in seconds. KETCH_REINSTALL=1 does both anyway.
npm_stamp="$(cat package-lock.json package.json | sha256sum | cut -c1-64) node-abi-$(node -p process.versions.modules)"
if [ -n "${KETCH_REINSTALL:-}" ] || [ ! -d node_modules ] || [ "$(cat node_modules/.ketch-installed 2>/dev/null)" != "$npm_stamp" ]; then
  npm ci --no-audit --no-fund
  echo "$npm_stamp" > node_modules/.ketch-installed
else
  echo "ketch: npm dependencies up to date (package-lock.json unchanged since the last npm ci)"
fi
build_stamp=dist/.ketch-built
if [ -n "${KETCH_REINSTALL:-}" ] || [ ! -f dist/cli/main.js ] || [ ! -f "$build_stamp" ] ||
  [ -n "$(find api lib client apiserver scheduler controllers agent cli registry tsconfig.json tsconfig.build.json package-lock.json -newer "$build_stamp" -print -quit 2>/dev/null)" ]; then
  npm run build
  touch "$build_stamp"
else
  echo "ketch: build up to date (no source file changed since the last build)"
fi
