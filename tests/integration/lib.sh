# lib.sh -- helpers for integration tests (sourced).  Tests print one
# "ok - ..." or "not ok - ..." line per check; run.sh counts them.
set -u
TRACEKIT=${TRACEKIT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/asan/tracekit}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/tk-test.XXXXXX")
_pids_to_kill=()
cleanup() {
  local p
  for p in "${_pids_to_kill[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ -n "${TEST_OUTPUT:-}" ] && [ "${KEEP_TEST_DIRS:-0}" = 1 ]; then cp -a "$T" "$TEST_OUTPUT/" 2>/dev/null; fi
  rm -rf "$T"
}
trap cleanup EXIT
# Remember a PID we started, so cleanup stops it (never by name).
track_pid() { _pids_to_kill+=("$1"); }

ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }
# check DESCRIPTION COMMAND...: ok if the command succeeds.
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
# expect_fail DESCRIPTION COMMAND...: ok if the command fails (non-zero).
expect_fail() { local d=$1; shift; if "$@"; then not_ok "$d (succeeded)"; else ok "$d"; fi; }
# py EXPR...: run a python3 snippet (stdlib only) for checks on JSON files.
py() { python3 -c "$@"; }
skip() { echo "ok - SKIP $*"; }
# free_port: a loopback TCP port free a moment ago.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_port PORT: until something accepts on 127.0.0.1:PORT; fails after 10 s.
wait_port() {
  local i
  for i in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), timeout=1).close()" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# wait_listen FILE: the port a `links --serve` printed ("listening on ADDR:PORT
# (node ...)") once it is listening; fails after 10 s.
wait_listen() {
  local i
  for i in $(seq 1 100); do
    grep -q '^listening on' "$1" 2>/dev/null && { sed -n 's/^listening on .*:\([0-9]*\) (node.*/\1/p' "$1"; return 0; }
    sleep 0.1
  done
  return 1
}
