# Shared helpers for formnet's integration tests. Source it; it sets -euo pipefail.
# Tests build their own network namespaces and send traffic only inside them.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FORMNET="${FORMNET:-$REPO_ROOT/.build/debug/formnet}"
PASSED=0
FAILED=0

die() { echo "FAIL: $*" >&2; exit 1; }

# A test that needs a tool fails loudly when it is missing; it never skips.
require_root() { [ "$(id -u)" = 0 ] || die "this test needs root (network namespaces, TUN devices)"; }
require_tool() { # require_tool TOOL DEBIAN-PACKAGE
    command -v "$1" >/dev/null 2>&1 || die "'$1' is missing: apt-get install --no-install-recommends $2"
}
require_formnet() { [ -x "$FORMNET" ] || die "no formnet binary at $FORMNET: run 'swift build' first"; }
require_server() { # sets SERVER_BIN: $FORMNET_SERVER, or formnet-server beside formnet
    SERVER_BIN="${FORMNET_SERVER:-$(dirname "$FORMNET")/formnet-server}"
    [ -x "$SERVER_BIN" ] || die "no formnet-server binary at $SERVER_BIN: run 'swift build' first"
}
require_bin_dir() { # sets BIN_DIR absolute ($BIN_DIR, or formnet's directory), which holds both binaries
    BIN_DIR="$(cd "${BIN_DIR:-$(dirname "$FORMNET")}" && pwd)"
    local b
    for b in formnet formnet-server; do
        [ -x "$BIN_DIR/$b" ] || die "no $b binary in $BIN_DIR: run 'swift build' first"
    done
}

pass() { echo "PASS: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
check() { # check "description" command... — records a pass or a fail, never aborts the test
    local what="$1"; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
# failed_with [--] TEXT: the last command ($rc, $out) failed and its message contains TEXT.
failed_with() { [ "$rc" -ne 0 ] && grep -qF "$@" <<<"$out"; }
summary() { echo "$(basename "$(cd "$(dirname "$0")" && pwd)"): $PASSED passed, $FAILED failed"; [ "$FAILED" = 0 ]; }

# on NS COMMAND... runs a command inside a namespace the test made.
on() { local ns="$1"; shift; ip netns exec "$ns" "$@"; }
