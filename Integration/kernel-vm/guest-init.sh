#!/bin/busybox sh
# PID 1 of the VM booted by Integration/kernel-vm/run (read that first).
#
#     ns1                                              ns2
#     veth1 192.168.241.1/24  <------ veth ------>  veth2 192.168.241.2/24
#     wg1   10.241.0.1/24  udp 51821               wg2   10.241.0.2/24  udp 51822
#
# /test holds what the host prepared: params (MODE=formnet|reference, EXTRA_PEERS,
# PEER1_PUB, PEER2_PUB), modules (insmod order), wg1.conf, wg1-small.conf, wg2.conf and
# the `wg show dump` each must read back as (*.expected).
# Every line for the host starts with "kernel-vm:"; the last one is the verdict,
# "FORMNET-KERNEL-VM: PASS" or "FORMNET-KERNEL-VM: FAIL <reason>".

/bin/busybox --install -s /bin
export PATH=/bin WG_COLOR_MODE=never
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
. /test/params

# Debian's static busybox runs its own applets before $PATH: the real tools by full path.
ip=/usr/sbin/ip
wg=/usr/bin/wg
formnet=/usr/bin/formnet

say() { echo "kernel-vm: $*"; }
verdict() { echo "FORMNET-KERNEL-VM: $*"; sync; poweroff -f; sleep 10; }
fail() { verdict "FAIL $*"; }
n1() { $ip netns exec ns1 "$@"; }
n2() { $ip netns exec ns2 "$@"; }
ns() { local n=$1; shift; $ip netns exec "$n" "$@"; }

# --- the two ways to drive a WireGuard interface: formnet, or ip + wg as a control -----

wg_up() { # ns iface config address
	if [ "$MODE" = formnet ]; then
		ns "$1" $formnet wg up "$2" --backend kernel --config "$3" --address "$4" --mtu 1420
	else
		$ip -n "$1" link add "$2" type wireguard &&
			ns "$1" $wg setconf "$2" "$3" &&
			$ip -n "$1" addr add "$4" dev "$2" &&
			$ip -n "$1" link set "$2" mtu 1420 up
	fi
}

wg_setconf() { # ns iface config
	if [ "$MODE" = formnet ]; then
		ns "$1" $formnet wg setconf "$2" "$3" --backend kernel
	else
		ns "$1" $wg setconf "$2" "$3"
	fi
}

wg_dump() { # ns iface
	if [ "$MODE" = formnet ]; then
		ns "$1" $formnet wg show "$2" --backend kernel --dump
	else
		ns "$1" $wg show "$2" dump
	fi
}

wg_down() { # ns iface
	if [ "$MODE" = formnet ]; then
		ns "$1" $formnet wg down "$2" --backend kernel
	else
		$ip -n "$1" link del "$2"
	fi
}

# A `wg show dump` reduced to what configuration decides, one sorted line per allowed IP
# (the kernel keeps them in a trie, in its own order): keys, preshared key, endpoint,
# keepalive, allowed IP; handshake and transfer columns dropped.
normalize() {
	awk -F '\t' -v OFS='\t' '
		NR == 1 { print "interface", $1, $2, $3, $4; next }
		{ n = split($4, a, ","); for (i = 1; i <= n; i++) print "peer", $1, $2, $3, $8, a[i] }' |
		sort
}

# The peer line of one public key in a dump, fields split by spaces.
peer_fields() { # dump-file pubkey
	awk -F '\t' -v k="$2" 'NR > 1 && $1 == k { print $5, $6, $7 }' "$1"
}

# Reads iface back and compares it with its expected dump; with formnet, wg(8) must
# read the same.
check_readback() { # ns iface expected-file what
	wg_dump "$1" "$2" >/tmp/dump || fail "$4: reading $2 back failed"
	normalize </tmp/dump >/tmp/got
	normalize <"$3" >/tmp/want
	if ! cmp -s /tmp/want /tmp/got; then
		diff /tmp/want /tmp/got | head -n 12 | sed 's/^/kernel-vm:   /'
		fail "$4: $2 read back differs from its configuration"
	fi
	# A peer split over two dump lines would normalize the same: count lines too.
	peers=$(($(wc -l </tmp/dump) - 1))
	[ "$peers" = $(($(wc -l <"$3") - 1)) ] ||
		fail "$4: $2 read back as $peers peer lines, configured $(($(wc -l <"$3") - 1))"
	ips=$(grep -c '^peer' /tmp/got)
	if [ "$MODE" = formnet ]; then
		ns "$1" $wg show "$2" dump | normalize >/tmp/wg ||
			fail "$4: wg show $2 dump failed"
		cmp -s /tmp/got /tmp/wg || fail "$4: wg(8) reads $2 differently from formnet"
		say "$4: $2 read back $peers peers, $ips allowed IPs, identical to its configuration; wg(8) agrees"
	else
		say "$4: $2 read back $peers peers, $ips allowed IPs, identical to its configuration"
	fi
}

# --- kernel modules and topology -------------------------------------------------------

while read -r m; do
	insmod "/modules/$m" || fail "insmod $m"
done </test/modules
say "kernel $(uname -r), modules loaded: $(tr '\n' ' ' </test/modules)"
if [ "$MODE" = formnet ]; then
	key=$($formnet wg genkey) && echo "$key" | $formnet wg pubkey >/dev/null ||
		fail "formnet does not run in the guest (a runtime library missing?)"
fi

$ip netns add ns1 || fail "ip netns add ns1"
$ip netns add ns2 || fail "ip netns add ns2"
$ip -n ns1 link set lo up
$ip -n ns2 link set lo up
$ip -n ns1 link add veth1 type veth peer name veth2 netns ns2 || fail "veth pair"
$ip -n ns1 addr add 192.168.241.1/24 dev veth1
$ip -n ns2 addr add 192.168.241.2/24 dev veth2
$ip -n ns1 link set veth1 up
$ip -n ns2 link set veth2 up

# --- WireGuard up, configuration read back ---------------------------------------------

t0=$(date +%s)
wg_up ns1 wg1 /test/wg1.conf 10.241.0.1/24 || fail "bringing wg1 up in ns1"
wg_up ns2 wg2 /test/wg2.conf 10.241.0.2/24 || fail "bringing wg2 up in ns2"
say "up: wg1 and wg2 in $(($(date +%s) - t0))s"
check_readback ns1 wg1 /test/wg1.expected up
check_readback ns2 wg2 /test/wg2.expected up

for i in 1 2; do
	$ip -n ns$i link show wg$i | grep -q 'mtu 1420' || fail "wg$i: MTU is not 1420"
	$ip -n ns$i -4 addr show dev wg$i | grep -q "inet 10.241.0.$i/24" ||
		fail "wg$i: address 10.241.0.$i/24 missing"
done
if [ "$MODE" = formnet ]; then
	# `wg up` routes every allowed IP outside the interface's own subnet to it.
	for dst in 10.242.0.1 172.16.7.9 fd00:242::1 10.243.7.200 fd00:243::fa0; do
		$ip -n ns1 route get "$dst" 2>/dev/null | grep -q 'dev wg1' ||
			fail "wg1: no route to allowed IP $dst"
	done
	say "up: wg1 routes its peers' allowed IPs"
fi

# setconf replaces the peers: down to 6, then back to all of them.
wg_setconf ns1 wg1 /test/wg1-small.conf || fail "setconf wg1 (small)"
check_readback ns1 wg1 /test/wg1-small.expected setconf
wg_setconf ns1 wg1 /test/wg1.conf || fail "setconf wg1 (full)"
check_readback ns1 wg1 /test/wg1.expected setconf

# --- traffic across the tunnel ---------------------------------------------------------

n1 ping -c 3 -W 2 10.241.0.2 >/tmp/ping 2>&1
ok=$?
say "ping ns1 -> 10.241.0.2: $(grep -a 'packets transmitted' /tmp/ping)"
[ $ok = 0 ] || { sed 's/^/kernel-vm:   /' /tmp/ping; fail "ping across the tunnel"; }

# Handshake time and transfer counters, through the backend under test; with formnet
# wg(8) is read afterwards and must show the same handshake and at least the bytes.
for side in "ns1 wg1 $PEER2_PUB" "ns2 wg2 $PEER1_PUB"; do
	set -- $side
	wg_dump "$1" "$2" >/tmp/dump || fail "reading $2 after ping"
	set -- "$1" "$2" "$3" $(peer_fields /tmp/dump "$3")
	[ $# = 6 ] || fail "$2: peer missing after ping"
	[ "$4" -gt 0 ] 2>/dev/null || fail "$2: no handshake with its peer ($4)"
	[ "$5" -gt 0 ] && [ "$6" -gt 0 ] || fail "$2: transfer counters rx=$5 tx=$6"
	say "traffic: $2 handshake $(($(date +%s) - $4))s ago, rx $5 B, tx $6 B"
	if [ "$MODE" = formnet ]; then
		ns "$1" $wg show "$2" dump >/tmp/wgdump
		set -- "$@" $(peer_fields /tmp/wgdump "$3")
		[ "$7" = "$4" ] || fail "$2: handshake formnet $4, wg(8) $7"
		[ "$5" -le "$8" ] && [ "$6" -le "$9" ] ||
			fail "$2: counters formnet rx=$5 tx=$6, wg(8) later rx=$8 tx=$9"
	fi
done

# --- down --------------------------------------------------------------------------------

wg_down ns1 wg1 || fail "taking wg1 down"
wg_down ns2 wg2 || fail "taking wg2 down"
$ip -n ns1 link show wg1 >/dev/null 2>&1 && fail "wg1 still exists after down"
$ip -n ns2 link show wg2 >/dev/null 2>&1 && fail "wg2 still exists after down"
say "down: wg1 and wg2 removed"

[ "$MODE" = formnet ] || verdict PASS

# --- a relayed pair: the server, a relay and two members' agents, all on the kernel backend --
#
#     m1 192.168.0.2 ---- isolated port ┐
#                                       br0  hub 192.168.0.1: formnet-server :51820, start-relay :51821
#     m2 192.168.0.3 ---- isolated port ┘
#
# The members' bridge ports are isolated from each other, so they reach the hub and never each
# other: every direct attempt fails and the pair can only talk through the relay. One bridge
# rather than a link per member keeps the hub on one address (a host with several answers UDP
# from the address its routes pick, which a client that sent to another drops).

server=/usr/bin/formnet-server
$ip netns add hub || fail "ip netns add hub"
$ip -n hub link set lo up
$ip -n hub link add br0 type bridge || fail "bridge br0"
$ip -n hub addr add 192.168.0.1/24 dev br0
$ip -n hub link set br0 up
for i in 1 2; do
	$ip netns add m$i || fail "ip netns add m$i"
	$ip -n m$i link set lo up
	$ip -n hub link add h$i type veth peer name up$i netns m$i || fail "veth hub-m$i"
	$ip -n hub link set h$i master br0
	$ip -n hub link set h$i type bridge_slave isolated on || fail "isolating h$i"
	$ip -n hub link set h$i up
	$ip -n m$i addr add 192.168.0.$((i + 1))/24 dev up$i
	$ip -n m$i link set up$i up
done
ns m1 ping -c 1 -W 1 192.168.0.1 >/dev/null 2>&1 || fail "m1 does not reach the hub"
ns m1 ping -c 1 -W 1 192.168.0.3 >/dev/null 2>&1 && fail "m1 reaches m2 directly: the bridge ports are not isolated"

srv() { ns hub $server "$@" --config-dir /run/srv/etc --data-dir /run/srv/data; }
mem() { local m=$1; shift; ns $m $formnet "$@" --config-dir /run/$m/etc --data-dir /run/$m/data --backend kernel --no-write-hosts; }
logs() { for f in /run/*.log; do echo "kernel-vm: --- $f"; tail -n 8 "$f" | sed 's/^/kernel-vm:   /'; done; }
wait_for() { # seconds command...
	local n=$1; shift
	while [ "$n" -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 1; n=$((n - 1)); done
	return 1
}

t0=$(date +%s)
srv new --network-name mesh --network-cidr 10.250.0.0/16 --external-endpoint 192.168.0.1:51820 --listen-port 51820 >/run/srv.log 2>&1 ||
	{ logs; fail "formnet-server new"; }
srv add-cidr mesh --name members --cidr 10.250.1.0/24 --parent mesh >>/run/srv.log 2>&1 || { logs; fail "add-cidr"; }
for i in 1 2; do
	srv add-peer mesh --name m$i --cidr members --ip 10.250.1.$i --save-config /run/m$i.toml >>/run/srv.log 2>&1 ||
		{ logs; fail "add-peer m$i"; }
done
srv serve mesh --backend kernel >>/run/srv.log 2>&1 &
wait_for 60 ns hub $ip link show mesh || { logs; fail "the server's interface did not come up"; }

mkdir -p /run/relay
$formnet wg genkey >/run/relay/relay.key
chmod 600 /run/relay/relay.key
relay_pub=$($formnet wg pubkey </run/relay/relay.key)
ns hub $formnet start-relay --open --data-dir /run/relay --status-port 9100 >/run/relay.log 2>&1 &

for i in 1 2; do
	mem m$i install /run/m$i.toml >/run/m$i.log 2>&1 || { logs; fail "m$i: install"; }
	mem m$i add-bootstrap-relay 192.168.0.1:51821 "$relay_pub" >>/run/m$i.log 2>&1 || { logs; fail "m$i: add-bootstrap-relay"; }
	mem m$i up mesh --daemon --interval 5 >>/run/m$i.log 2>&1 &
done
say "relayed: server, relay and both members up in $(($(date +%s) - t0))s"

t1=$(date +%s)
wait_for 90 ns m1 ping -c 1 -W 1 10.250.1.2 || { logs; fail "m1 never reached m2 through the relay"; }
say "relayed: m1 reaches m2 $(($(date +%s) - t1))s after the agents started"
mem m1 show mesh --short >/tmp/show 2>&1
path=$(awk '$1 == "m2" { for (i = 1; i < NF; i++) if ($i == "path") print $(i + 1) }' /tmp/show)
via=$(awk '$1 == "m2" { for (i = 1; i < NF; i++) if ($i == "via") print $(i + 1) }' /tmp/show)
[ "$path" = relayed ] && [ "$via" = 192.168.0.1:51821 ] ||
	{ sed 's/^/kernel-vm:   /' /tmp/show; fail "m1's show says m2's path is '$path' via '$via', not relayed via 192.168.0.1:51821"; }
# The relay grants each member a channel for the other: the kernel's WireGuard then sends to a
# port of the relay itself, and the agents are out of the data path.
m1_pub=$(ns m1 $wg show mesh public-key)
m2_pub=$(ns m2 $wg show mesh public-key)
endpoint_of() { ns $1 $wg show mesh endpoints | awk -v k="$2" '$1 == k { print $2 }'; }
on_channel() { case $(endpoint_of $1 $2) in 192.168.0.1:51821) return 1 ;; 192.168.0.1:*) return 0 ;; *) return 1 ;; esac; }
both_on_channels() { on_channel m1 "$m2_pub" && on_channel m2 "$m1_pub"; }
wait_for 20 both_on_channels ||
	{ logs; fail "the kernel WireGuards send to m1: $(endpoint_of m1 "$m2_pub"), m2: $(endpoint_of m2 "$m1_pub"), not to channels of the relay"; }
channel_sent() { ns hub wget -qO- http://127.0.0.1:9100/metrics | awk '$1 == "formnet_relay_channel_packets_sent_total" { print $2 }'; }
before=$(channel_sent)
n=$(ns m1 ping -c 20 -i 0.2 -W 1 -q 10.250.1.2 | awk '/packets transmitted/ { print $4 }')
[ "$n" = 20 ] || fail "m1 -> m2 through the relay's channels: $n of 20 answered"
moved=$(($(channel_sent) - before))
[ "$moved" -ge 40 ] || fail "the relay sent $moved packets out of channels for 20 pings and their replies, not all 40"
say "relayed: m1's show says m2 is relayed via $via; the kernel WireGuards sent to channels of the relay; 20 of 20 pings answered, and the relay sent $moved packets between the channels (m1 now sends to $(endpoint_of m1 "$m2_pub"), m2 to $(endpoint_of m2 "$m1_pub"))"

verdict PASS
