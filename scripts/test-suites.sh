#!/usr/bin/env bash
# The whole test suite as two mocha runs side by side (`npm test` after the type-check and the build), so that a
# 2-core machine waits on one suite's clusters, containers and fault windows while the other computes:
#   host  the suites that change the host (network namespaces, veths, bridges, nft rules, mounts, cgroups, runc,
#         containerd): one after another, as before, so that no two of them share a network range or a host name;
#         and those that read what the others change: the serving certificate covers the host's addresses, so a
#         bridge address that appears meanwhile has the API server issue it again (seen in test/apiserver/tls);
#   rest  everything else: units and clusters of in-process servers, etcd and registries on free loopback ports, and
#         the chaos run, whose real node is a network namespace of its own (names and ranges no other suite uses).
# Measured on 2 cores (CI, 2,037 tests): the host suites took 25 min beside 7 min of the rest; chaos (5 min) and the
# storage suites (1.3 min) moved over from the host run evens them out.
# Each run's output goes to its own log; the host run's is streamed, the other's printed whole when it ends (never
# interleaved). The last lines add up both runs as mocha prints them ("N passing", "N pending", "N failing"), which
# .ci/run reads. Exit status: non-zero when either run failed. Extra arguments go to both mocha runs.
set -uo pipefail
cd "$(dirname "$0")/.."

# Suites that change the host. A new suite that does belongs here (or under one of these folders).
HOST=(
  'test/e2e/**/*.test.ts'
  'test/agent/**/*.test.ts'
  'agent/**/*.test.ts'
  'test/dns/**/*.test.ts'
  'test/build/**/*.test.ts'
  'test/registry/registry-clients.test.ts'
  'test/controllers/local-path.test.ts'
  'test/apiserver/tls.test.ts'
  'apiserver/pki/pki.test.ts'
  'apiserver/server/https.test.ts'
)
ALL=('{api,lib,client,apiserver,scheduler,controllers,agent,cli,registry}/**/*.test.ts' 'test/**/*.test.ts')

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
ignores=()
for g in "${HOST[@]}"; do ignores+=(--ignore "$g"); done

start=$SECONDS
npx mocha "$@" "${ALL[@]}" "${ignores[@]}" > "$logs/rest.log" 2>&1 &
rest_pid=$!
npx mocha "$@" "${HOST[@]}" 2>&1 | tee "$logs/host.log"
host_rc=${PIPESTATUS[0]}
wait "$rest_pid"
rest_rc=$?
echo
echo "==== the other suites (units, in-process clusters), run beside the host suites ===="
cat "$logs/rest.log"

# mocha's summary counts of one run ("  12 passing (3m)"): the last such line, 0 when absent.
count() { grep -E "^\s+[0-9]+ $2" "$1" | tail -1 | grep -oE '[0-9]+' | head -1 || true; }
sum() { echo $(( ${1:-0} + ${2:-0} )); }
passed=$(sum "$(count "$logs/host.log" passing)" "$(count "$logs/rest.log" passing)")
pending=$(sum "$(count "$logs/host.log" pending)" "$(count "$logs/rest.log" pending)")
failed=$(sum "$(count "$logs/host.log" failing)" "$(count "$logs/rest.log" failing)")
echo
echo "==== both runs: host exit $host_rc, rest exit $rest_rc, $(( SECONDS - start )) s ===="
echo "  $passed passing ($(( (SECONDS - start) / 60 ))m)"
[ "$pending" -gt 0 ] && echo "  $pending pending"
[ "$failed" -gt 0 ] && echo "  $failed failing"
[ "$host_rc" -eq 0 ] && [ "$rest_rc" -eq 0 ]
