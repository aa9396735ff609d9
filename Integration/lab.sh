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
#   lab_teardown                   kill every process on the lab hosts and remove them
# Source after lib.sh.

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

# lab_wg_endpoint HOST IFACE PEER-ADDRESS: where HOST's WireGuard on IFACE sends the packets of the
# peer whose allowed IPs are PEER-ADDRESS/32 (a direct endpoint, a relay channel, or a loopback proxy).
lab_wg_endpoint() {
    local key
    key="$(lab_exec "$1" wg show "$2" allowed-ips | awk -v ip="$3/32" '$2 == ip { print $1 }')"
    lab_exec "$1" wg show "$2" endpoints | awk -v k="$key" '$1 == k { print $2 }'
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
}
