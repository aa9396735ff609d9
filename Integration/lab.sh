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
#   lab_internet CIDR              an "internet": a bridge in host "inet" with prefix CIDR (e.g. 198.18.0.0/24)
#   lab_attach_public NAME ADDR    wire host NAME to the internet bridge with ADDR/prefix
#   lab_teardown                   kill every process on the lab hosts and remove them
# Source after lib.sh.

LAB="${LAB:-fnl}"
LAB_RUN="/run/formnet-lab/$LAB"
LAB_HOSTS=()
LAB_PREFIX_LEN=24

lab_host() {
    local name="$1" ns="$LAB-$1"
    mkdir -p "$LAB_RUN"
    # A mount namespace can only be pinned on a file in a private mount.
    if ! mountpoint -q "$LAB_RUN"; then
        mount --bind "$LAB_RUN" "$LAB_RUN"
        mount --make-private "$LAB_RUN"
    fi
    ip netns add "$ns"
    touch "$LAB_RUN/$name.mnt"
    unshare --mount="$LAB_RUN/$name.mnt" --propagation private true
    nsenter --mount="$LAB_RUN/$name.mnt" sh -c 'mkdir -p /run/wireguard && mount -t tmpfs -o mode=0700 formnet-lab /run/wireguard'
    LAB_HOSTS+=("$name")
    lab_exec "$name" ip link set lo up
}

lab_exec() {
    local name="$1"; shift
    nsenter --net="/run/netns/$LAB-$name" --mount="$LAB_RUN/$name.mnt" "$@"
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
    local name
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
}
