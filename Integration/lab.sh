# Lab hosts for formnet's integration tests, in the spirit of the kernel's WireGuard netns
# selftest: every host is a network namespace the test makes, nothing is routed to the machine's
# real interfaces, and all traffic stays between the hosts.
#
# wireguard-go hard-codes its UAPI socket directory (/run/wireguard), which network namespaces
# share. So each host also gets a persistent mount namespace with a private tmpfs there: every
# member can use the same network (interface) name, as on real machines.
#
#   lab_host NAME                  make host NAME (netns $LAB-NAME + its mount namespace)
#   lab_exec NAME CMD...           run CMD on host NAME
#   lab_spawn NAME CMD...          start CMD on host NAME in the background; its pid in LAB_PID
#   lab_internet CIDR              an "internet": a bridge in host "inet" with prefix CIDR (e.g. 198.18.0.0/24)
#   lab_attach_public NAME ADDR    wire host NAME to the internet bridge with ADDR/prefix
#   lab_public_hosts NAME:ADDR...  make each host NAME and wire it to the internet with ADDR
#   lab_teardown                   kill every process on the lab hosts and remove them
#   lab_cut ROUTER ADDR, lab_heal ROUTER   drop a router's UDP to and from ADDR, and stop
#   WAN_DELAY_MS, WAN_JITTER_MS, WAN_LOSS, WAN_RATE_KBIT  impair every NAT router (_lab_router_impair)
#   wan_limit SECONDS              SECONDS plus two round trips between members on that WAN
#   wan_losses N                   of N pings between members, how many that WAN may lose
# Source after lib.sh. The formnet helpers (below the NAT routers) come after.

LAB="${LAB:-fnl}"
LAB_HOSTS=()
LAB_PREFIX_LEN=24

# Where the hosts' mount namespaces are pinned; derived when used, since a test sets LAB after
# sourcing this file, and two labs must never share it.
lab_run() { printf '/run/formnet-lab/%s' "$LAB"; }

lab_host() {
    local name="$1" ns="$LAB-$1"
    local LAB_RUN; LAB_RUN="$(lab_run)"
    mkdir -p "$LAB_RUN"
    # A mount namespace can only be pinned on a file in a private mount.
    if ! mountpoint -q "$LAB_RUN"; then
        mount --bind "$LAB_RUN" "$LAB_RUN"
        mount --make-private "$LAB_RUN"
    fi
    ip netns add "$ns"
    # Registered at once, so a failure in the steps below still gets it torn down.
    LAB_HOSTS+=("$name")
    touch "$LAB_RUN/$name.mnt"
    unshare --mount="$LAB_RUN/$name.mnt" --propagation private true
    nsenter --mount="$LAB_RUN/$name.mnt" sh -c 'mkdir -p /run/wireguard && mount -t tmpfs -o mode=0700 formnet-lab /run/wireguard'
    lab_exec "$name" ip link set lo up
}

lab_exec() {
    local name="$1"; shift
    local LAB_RUN; LAB_RUN="$(lab_run)"
    nsenter --net="/run/netns/$LAB-$name" --mount="$LAB_RUN/$name.mnt" "$@"
}

lab_spawn() {
    local name="$1"; shift
    local LAB_RUN; LAB_RUN="$(lab_run)"
    # A simple command, not a function, so that $! is the process itself (nsenter execs it).
    nsenter --net="/run/netns/$LAB-$name" --mount="$LAB_RUN/$name.mnt" "$@" &
    LAB_PID=$!
}

lab_internet() {
    local cidr="$1"
    LAB_PREFIX_LEN="${cidr#*/}"
    lab_host inet
    lab_exec inet ip link add br0 type bridge
    lab_exec inet ip link set br0 up
}

lab_attach_public() {
    local name="$1" addr="$2" port="v-$1"
    ip link add "$port" netns "$LAB-inet" type veth peer name eth0 netns "$LAB-$name"
    lab_exec inet ip link set "$port" master br0 up
    lab_exec "$name" ip addr add "$addr/$LAB_PREFIX_LEN" dev eth0
    lab_exec "$name" ip link set eth0 up
}

lab_public_hosts() {
    local spec
    for spec in "$@"; do
        lab_host "${spec%%:*}"
        lab_attach_public "${spec%%:*}" "${spec#*:}"
    done
}

lab_teardown() {
    local name LAB_RUN
    LAB_RUN="$(lab_run)"
    for name in "${LAB_HOSTS[@]}"; do
        ip netns pids "$LAB-$name" 2>/dev/null | xargs -r kill 2>/dev/null || true
    done
    sleep 0.3
    for name in "${LAB_HOSTS[@]}"; do
        ip netns pids "$LAB-$name" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        umount "$LAB_RUN/$name.mnt" 2>/dev/null || true
        rm -f "$LAB_RUN/$name.mnt"
        ip netns del "$LAB-$name" 2>/dev/null || true
    done
    LAB_HOSTS=()
    umount "$LAB_RUN" 2>/dev/null || true
    rmdir "$LAB_RUN" 2>/dev/null || true
}

# NAT routers. A router has its outside on the internet (eth0) and a LAN bridge inside (lan0);
# hosts on its LAN route through it.
#
#   lab_router NAME TYPE PUBLIC_ADDR LAN_CIDR   TYPE is one of
#       pp         port-preserving, endpoint-independent mapping (Linux masquerade; hole
#                  punching works across two of them)
#       symmetric  a new port for every destination (masquerade fully-random): no hole punching
#       udpblock   port-preserving, but all UDP dropped (TCP passes): only a TCP relay helps
#   lab_router_behind NAME TYPE ROUTER ADDR LAN_CIDR   a router whose outside is on ROUTER's LAN
#                  (NAT behind NAT, as a carrier-grade NAT)
#   lab_attach_lan HOST ROUTER ADDR              wire HOST to ROUTER's LAN, default route via it
#   lab_lan_hosts HOST:ROUTER:ADDR...            make each HOST and wire it to ROUTER's LAN
#   lab_block_udp ROUTER, lab_unblock_udp ROUTER  from now on ROUTER forwards no UDP (TCP passes);
#                  again
#
# Each router drops unsolicited packets sent to its own outside address: otherwise an early
# punch from the other side leaves an unreplied conntrack entry and the member's own outbound
# flow gets moved to a new port, which makes punching fail intermittently.

lab_router() {
    local name="$1" type="$2" public="$3" lan="$4"
    lab_host "$name"
    lab_attach_public "$name" "$public"
    _lab_router_inside "$name" "$type" "$lan"
}

lab_router_behind() {
    local name="$1" type="$2" upstream="$3" addr="$4" lan="$5"
    lab_host "$name"
    lab_attach_lan "$name" "$upstream" "$addr"
    _lab_router_inside "$name" "$type" "$lan"
}

lab_attach_lan() {
    local host="$1" router="$2" addr="$3" port="l-$1"
    local gw; gw="$(lab_exec "$router" ip -4 -o addr show dev lan0 | awk '{print $4}')"
    ip link add "$port" netns "$LAB-$router" type veth peer name eth0 netns "$LAB-$host"
    lab_exec "$router" ip link set "$port" master lan0 up
    lab_exec "$host" ip addr add "$addr/${gw#*/}" dev eth0
    lab_exec "$host" ip link set eth0 up
    lab_exec "$host" ip route add default via "${gw%/*}"
}

lab_lan_hosts() {
    local spec host router addr
    for spec in "$@"; do
        IFS=: read -r host router addr <<<"$spec"
        lab_host "$host"
        lab_attach_lan "$host" "$router" "$addr"
    done
}

lab_block_udp() { lab_exec "$1" nft insert rule inet filter forward meta l4proto udp drop; }
lab_unblock_udp() {
    local handle
    for handle in $(lab_exec "$1" nft -a list chain inet filter forward | awk '/meta l4proto udp drop/ { print $NF }'); do
        lab_exec "$1" nft delete rule inet filter forward handle "$handle"
    done
}

_lab_router_inside() {
    local name="$1" type="$2" lan="$3"
    local gw="${lan%.*}.1/${lan#*/}"
    local mapping="masquerade"
    lab_exec "$name" ip link add lan0 type bridge
    lab_exec "$name" ip addr add "$gw" dev lan0
    lab_exec "$name" ip link set lan0 up
    lab_exec "$name" sysctl -q -w net.ipv4.ip_forward=1
    case "$type" in
        pp|udpblock) ;;
        symmetric) mapping="masquerade fully-random" ;;
        *) die "unknown NAT type '$type'" ;;
    esac
    local udp_rule=""
    [ "$type" = udpblock ] && udp_rule="meta l4proto udp drop"
    lab_exec "$name" nft -f - <<NFT
table ip nat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "eth0" $mapping
    }
}
table inet filter {
    chain input {
        type filter hook input priority filter; policy accept;
        iifname "eth0" ct state established,related accept
        iifname "eth0" drop
    }
    chain forward {
        type filter hook forward priority filter; policy accept;
        $udp_rule
        iifname "eth0" ct state established,related accept
        iifname "eth0" drop
    }
}
NFT
    _lab_router_impair "$name"
}

# A WAN behind every NAT router: with WAN_DELAY_MS, WAN_JITTER_MS, WAN_LOSS (a fraction) or
# WAN_RATE_KBIT set, the router holds each packet it forwards, both ways, WAN_DELAY_MS plus a jitter
# drawn from [-WAN_JITTER_MS, +WAN_JITTER_MS], loses WAN_LOSS of them, and passes at most
# WAN_RATE_KBIT kilobits a second each way, through a delay line on NFQUEUE
# (Integration/tools/delay-line.py; this kernel has no netem; docs/adr/0013-the-wan-lab.md). A member is then 2 x WAN_DELAY_MS
# from a public host (the server, a relay) and 4 x WAN_DELAY_MS from a member behind another router.
_lab_router_impair() {
    local name="$1"
    [ "${WAN_DELAY_MS:-0}${WAN_JITTER_MS:-0}${WAN_LOSS:-0}${WAN_RATE_KBIT:-0}" != 0000 ] || return 0
    require_tool iptables-legacy iptables
    require_tool python3 python3
    # A LAN is not impaired: where br_netfilter is loaded, bridged frames would pass the queue too.
    lab_exec "$name" sh -c 'f=/proc/sys/net/bridge/bridge-nf-call-iptables; [ ! -e $f ] || echo 0 >$f'
    # In raw PREROUTING, before conntrack sees the packet: the delay is the wire's, and the NAT
    # maps and confirms at once when the packet is let go. Held after conntrack (FORWARD), an
    # outgoing packet's mapping stayed unconfirmed for the whole delay, and a peer's packet that
    # crossed it in that window made a conflicting entry that broke port preservation.
    lab_exec "$name" iptables-legacy -t raw -A PREROUTING -j NFQUEUE --queue-num 7 --queue-bypass
    lab_spawn "$name" python3 "$REPO_ROOT/Integration/tools/delay-line.py" --queue 7 --delay "${WAN_DELAY_MS:-0}" \
        --jitter "${WAN_JITTER_MS:-0}" --loss "${WAN_LOSS:-0}" --rate "${WAN_RATE_KBIT:-0}" >>"${WORK:-/tmp}/delay-line.$name.log" 2>&1
}

# A limit measured on the plain lab, on the WAN: two more round trips between members behind
# different routers (four passes through a delay line each).
wan_limit() { awk -v s="$1" -v d="${WAN_DELAY_MS:-0}" 'BEGIN { printf "%.2f", s + 2 * 4 * d / 1000 }'; }
# At most one lost ping of N on the plain lab; on the WAN, one plus three times what its loss
# (four passes a round trip) takes on average.
wan_losses() {
    awk -v n="$1" -v l="${WAN_LOSS:-0}" 'BEGIN { e = n * (1 - (1 - l) ^ 4) * 3; printf "%d", 1 + (e == int(e) ? e : int(e) + 1) }'
}

# lab_cut ROUTER ADDRESS: ROUTER drops the UDP it forwards to or from ADDRESS (a path that dies:
# a firewall change, a NAT that lost its mapping); lab_cut_one_way ROUTER ADDRESS: only what it
# forwards to ADDRESS; lab_heal ROUTER lifts every such cut.
_lab_cut_table() {
    lab_exec "$1" nft list table inet cut >/dev/null 2>&1 || {
        lab_exec "$1" nft add table inet cut
        lab_exec "$1" nft add chain inet cut forward '{ type filter hook forward priority -10; }'
    }
}
lab_cut() {
    _lab_cut_table "$1"
    lab_exec "$1" nft add rule inet cut forward ip daddr "$2" meta l4proto udp drop
    lab_exec "$1" nft add rule inet cut forward ip saddr "$2" meta l4proto udp drop
}
lab_cut_one_way() {
    _lab_cut_table "$1"
    lab_exec "$1" nft add rule inet cut forward ip daddr "$2" meta l4proto udp drop
}
lab_heal() { lab_exec "$1" nft delete table inet cut 2>/dev/null || true; }

# formnet on the lab hosts. A test sets NET (the network's name), WORK (its directory: WORK/HOST
# holds each host's config and data directories, WORK/HOST.log its agent's output), FORMNET and
# SERVER_BIN (require_server), and IP, each host's address on the network.
#
#   server SUBCOMMAND ARGS...      formnet-server on host "server", with its directories
#   member HOST ARGS...            formnet on HOST, with its directories, userspace WireGuard
#   invite HOST [ARGS...]          add HOST as a peer at ip_of HOST; its invitation in WORK/HOST.toml
#   start_server API-ADDR          `formnet-server serve`; its pid in SERVER_PID once the API
#                                  listens on API-ADDR (e.g. 10.80.0.1:51820)
#   start_agent HOST [ARGS...]     `formnet up --daemon --interval $INTERVAL ARGS...` on HOST; its pid
#                                  in LAB_PID and AGENT_PID[HOST]
#   install_all HOST...            every HOST installs its invitation at once; install_done HOST: it did
#   knows_relays HOST N            after a `formnet up`, HOST's state lists at least N relays
#   ip_of HOST                     HOST's address on the network (IP[HOST])
#   pings HOST PEER [COUNT]        HOST gets a reply from PEER across the tunnel (1 ping, or COUNT)
#   listen_port_of HOST            the WireGuard port HOST listens on: 51820, or 51830 for "lan"
#   show_field HOST PEER FIELD     the word after FIELD in PEER's line of HOST's `formnet show --short`
#   short_field PEER FIELD         the same, from a `formnet show --short` on standard input
#   path_of/via_of HOST PEER       the path (direct, relayed, ...) and relay HOST shows for PEER
#   path_is HOST PEER PATH...      HOST shows one of PATHs for PEER
#   wg_endpoint HOST PEER          where HOST's WireGuard sends PEER's packets (a direct endpoint, a
#                                  relay channel, or its agent's loopback proxy)
#   tail_logs LINES NAME...        the last LINES lines of each WORK/NAME.log there is
#   wait_for SECONDS WHAT CMD...   runs CMD until it succeeds; after SECONDS a FAIL line names WHAT
#   now, since START [DIGITS]      the time; the seconds since START (1 decimal, or DIGITS)
#
# start_server and start_agent start their process with $LAB_SPAWN: lab_spawn, or the test's own.

declare -A IP=() AGENT_PID=()
INTERVAL=10
LAB_SPAWN=lab_spawn
WAIT_POLL=0.2   # seconds between wait_for's tries

server() {
    local sub="$1"; shift
    lab_exec server "$SERVER_BIN" "$sub" --config-dir "$WORK/server/etc" --data-dir "$WORK/server/data" "$@"
}

member() {
    local name="$1"; shift
    lab_exec "$name" "$FORMNET" --config-dir "$WORK/$name/etc" --data-dir "$WORK/$name/data" \
        --backend userspace --no-write-hosts "$@"
}

invite() {
    local name="$1"; shift
    server add-peer "$NET" --name "$name" --cidr members --ip "$(ip_of "$name")" --save-config "$WORK/$name.toml" "$@"
}

start_server() {
    $LAB_SPAWN server "$SERVER_BIN" serve "$NET" --config-dir "$WORK/server/etc" --data-dir "$WORK/server/data" \
        --backend userspace 2>>"$WORK/server.log"
    SERVER_PID=$LAB_PID
    wait_for 20 "server API on $1" server_listens "$1"
}
# The API's listening socket, which ss shows as ADDRESS%INTERFACE:PORT once it is kept to the
# WireGuard interface.
server_listens() { lab_exec server ss -ltnH | awk '{ sub(/%[^:]*:/, ":", $4); print $4 }' | grep -qxF "$1"; }

# AGENT_LOG_LEVEL=debug logs each relay engine decision (formnet --log-level).
start_agent() {
    local name="$1"; shift
    $LAB_SPAWN "$name" "$FORMNET" up "$NET" --config-dir "$WORK/$name/etc" --data-dir "$WORK/$name/data" \
        --backend userspace --no-write-hosts --daemon --interval "$INTERVAL" --log-level "${AGENT_LOG_LEVEL:-info}" "$@" \
        >>"$WORK/$name.log" 2>&1
    AGENT_PID[$name]=$LAB_PID
}

# Installs run together: each waits out the server's redeem transition (5 s).
declare -A _INSTALL_PID=()
install_all() {
    local m
    for m in "$@"; do
        member "$m" install "$WORK/$m.toml" >>"$WORK/$m.log" 2>&1 &
        _INSTALL_PID[$m]=$!
    done
}
install_done() { wait "${_INSTALL_PID[$1]}"; }

knows_relays() {
    member "$1" up "$NET" >/dev/null 2>&1 || return 1
    python3 -c 'import json, sys; sys.exit(0 if len(json.load(open(sys.argv[1]))["state"]["relays"]) >= int(sys.argv[2]) else 1)' \
        "$WORK/$1/data/$NET.json" "$2" 2>/dev/null
}

ip_of() {
    [ -n "${IP[$1]:-}" ] || die "no address for '$1' in IP"
    echo "${IP[$1]}"
}

pings() { lab_exec "$1" ping -c "${3:-1}" -W 1 -q "$(ip_of "$2")" >/dev/null; }
# Two members behind one NAT on one port collide: the NAT maps only one of them to that port
# toward a given peer, and the other's direct path to that peer fails (on the WAN lab, a <-> b
# stayed relayed whenever lan, behind a's router, had reached b first). "lan" listens on a port of
# its own, as docs/troubleshooting.md tells members that share a NAT.
listen_port_of() { if [ "$1" = lan ]; then echo 51830; else echo 51820; fi; }

short_field() {
    awk -v name="$1" -v f="$2" '$1 == name { for (i = 2; i < NF; i++) if ($i == f) { print $(i + 1); exit } }'
}
show_field() { member "$1" show "$NET" --short 2>/dev/null | short_field "$2" "$3"; }
path_of() { show_field "$1" "$2" path; }
via_of() { show_field "$1" "$2" via; }
path_is() {
    local path p; path="$(path_of "$1" "$2")"
    for p in "${@:3}"; do [ "$path" = "$p" ] && return 0; done
    return 1
}

wg_endpoint() {
    local key
    key="$(lab_exec "$1" wg show "$NET" allowed-ips | awk -v ip="$(ip_of "$2")/32" '$2 == ip { print $1 }')"
    lab_exec "$1" wg show "$NET" endpoints | awk -v k="$key" '$1 == k { print $2 }'
}

tail_logs() {
    local lines="$1" name; shift
    for name in "$@"; do
        [ -f "$WORK/$name.log" ] && { echo "--- $name.log"; tail -n "$lines" "$WORK/$name.log"; }
    done
    return 0
}

# By the clock, in whole seconds: a try can take long (a ping waits for its reply). Each try's
# output is dropped. A bare wait_for that times out stops a test under set -e, and its FAIL line
# (on standard error, like die's) says what it waited for; inside check, the check's follows it.
wait_for() {
    local seconds="$1" what="$2"; shift 2
    local deadline=$(( ${EPOCHREALTIME//[!0-9]/} + seconds * 1000000 ))
    until "$@" >/dev/null 2>&1; do
        if [ "${EPOCHREALTIME//[!0-9]/}" -ge "$deadline" ]; then
            echo "FAIL: timed out after $seconds s waiting for $what" >&2
            return 1
        fi
        sleep "$WAIT_POLL"
    done
}

now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" -v f="%.${2:-1}f" 'BEGIN { printf f, e - s }'; }
