# Sourced by bench/relay/attack and bench/relay/fuzz: a work directory removed at exit with every
# process started, a release build of formnet and formnet-relay-probe (BIN), and a relay on
# loopback.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
(cd "$REPO_ROOT" && swift build -c release --scratch-path .build-relay --product formnet &&
    swift build -c release --scratch-path .build-relay --product formnet-relay-probe) >"$WORK/build.log" 2>&1 \
    || { tail -30 "$WORK/build.log"; echo "build failed"; exit 1; }
BIN="$REPO_ROOT/.build-relay/release"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_mb() { awk '/^VmRSS:/ { printf "%d", $2 / 1024 }' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }

# start_relay ARGS...: an open relay on 127.0.0.1:PORT with ARGS; sets PORT, KEY, RELAY_PID.
start_relay() {
    PORT="$(free_port)"
    "$BIN/formnet" start-relay --open --bind 127.0.0.1 --port "$PORT" --data-dir "$WORK/relay" "$@" \
        >"$WORK/relay.out" 2>"$WORK/relay.log" &
    RELAY_PID=$!; PIDS+=("$RELAY_PID")
    for _ in $(seq 50); do KEY="$(sed -n 's/^relay public key: //p' "$WORK/relay.out")"; [ -n "$KEY" ] && return 0; sleep 0.1; done
    echo "relay did not start"; cat "$WORK/relay.log"; exit 1
}
