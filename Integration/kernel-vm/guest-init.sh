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

verdict PASS
