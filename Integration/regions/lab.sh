# The regions lab, shared by Integration/regions/run and bench/regions/run: regions on one lab
# internet, each its own /24 routed through a core router, every member behind a symmetric NAT
# (no direct path for any pair), every relay `formnet start-relay --network` on a member, all
# placed by a test GeoIP database around their region's city. With DELAY_MS, a delay line
# (Integration/tools/delay-line.py on NFQUEUE) in the core holds every packet between two
# regions DELAY_MS each way.
#
# Source after Integration/lib.sh and lab.sh, with NET, WORK and LAB set and, per region in
# REGION_NAMES order, REGION_RELAYS[REGION] (relay host names) and REGION_MEMBERS[REGION]
# (member names; the host is m-NAME behind router r-NAME). Then:
#
#   regions_build                  the lab, the server, every host invited and installed
#   start_member HOST, start_relay HOST   an agent (with the test database); a relay on HOST
#   relay_of_endpoint ENDPOINT     the relay host announced at ENDPOINT
#   relays_json HOST               HOST's agent's relays, a line each: NAME REGISTRATION HEALTH
#   standing_of / on_demand_of HOST   its standing / usable on-demand relays, sorted, one line
#   on_demand_for HOST PEER        its usable on-demand relays that its route to PEER keeps open
#   relay_via HOST PEER            the relay HOST shows PEER's path through
#   same_relay X Y                 both show the pair relayed, through one relay
#
#   core      198.18.R.254 for each region R
#   region R  198.18.R.0/24: server .1 in the region named by SERVER_REGION, relays .31 on,
#             members' routers .11 on; members' LANs 192.168.30.0/24 on, mesh 10.91.1.0/24

REGION_NAMES=(tokyo frankfurt newyork)
declare -A REGION_NET=([tokyo]=1 [frankfurt]=2 [newyork]=3)
declare -A REGION_AT=([tokyo]="35.68 139.69 JP" [frankfurt]="50.11 8.68 DE" [newyork]="40.71 -74.01 US")
SERVER_REGION="${SERVER_REGION:-frankfurt}"
DELAY_MS="${DELAY_MS:-0}"
declare -A REGION_OF PUBLIC ENDPOINT RELAY_PID
RELAYS=() MEMBERS=()

regions_plan() {
    local region prefix i r m n=1
    for region in "${REGION_NAMES[@]}"; do
        prefix="198.18.${REGION_NET[$region]}"
        i=0; for r in ${REGION_RELAYS[$region]:-}; do
            RELAYS+=("$r"); REGION_OF[$r]=$region; PUBLIC[$r]=$prefix.$((31 + i)); ENDPOINT[$r]=$prefix.$((31 + i)):51821
            IP[$r]=10.91.1.$((100 + ${#RELAYS[@]})); i=$((i + 1))
        done
        i=0; for m in ${REGION_MEMBERS[$region]:-}; do
            MEMBERS+=("m-$m"); REGION_OF[m-$m]=$region; PUBLIC[m-$m]=$prefix.$((11 + i))
            IP[m-$m]=10.91.1.$n; n=$((n + 1)); i=$((i + 1))
        done
    done
}

# The test database: every relay and router a few km apart around its region's city.
regions_geo() {
    local h
    for h in "${RELAYS[@]}" "${MEMBERS[@]}"; do echo "${PUBLIC[$h]} ${REGION_AT[${REGION_OF[$h]}]}"; done | python3 -c '
import sys
for index, line in enumerate(sys.stdin):
    address, lat, lon, country = line.split()
    print(f"{address}/32 {float(lat) + (index % 7) * 0.05:.2f} {float(lon) + (index % 5) * 0.05:.2f} {country}")' >"$WORK/geo.txt"
    python3 "$REPO_ROOT/Integration/tools/mmdb-write.py" "$WORK/geo.mmdb" <"$WORK/geo.txt"
}

_regions_public_host() { # NAME ADDRESS: on the internet, the other regions through the core
    lab_host "$1"
    lab_attach_public "$1" "$2"
    lab_exec "$1" sysctl -q -w net.ipv4.conf.all.accept_redirects=0
    lab_exec "$1" ip route add 198.18.0.0/16 via "${2%.*}.254"
}

regions_build() {
    local region h m k=30 installed=0 first=1
    regions_plan
    regions_geo
    lab_internet 198.18.0.0/24
    lab_host core
    for region in "${REGION_NAMES[@]}"; do
        if [ "$first" = 1 ]; then lab_attach_public core "198.18.${REGION_NET[$region]}.254"; first=0
        else lab_exec core ip addr add "198.18.${REGION_NET[$region]}.254/24" dev eth0; fi
    done
    lab_exec core sysctl -q -w net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
    if [ "$DELAY_MS" != 0 ]; then
        # Everything the core forwards goes from one region to another.
        lab_exec core iptables-legacy -t mangle -A FORWARD -j NFQUEUE --queue-num 7
        lab_spawn core python3 "$REPO_ROOT/Integration/tools/delay-line.py" --queue 7 --delay "$DELAY_MS" >>"$WORK/delay-line.log" 2>&1
    fi
    _regions_public_host server "198.18.${REGION_NET[$SERVER_REGION]}.1"
    for h in "${RELAYS[@]}"; do _regions_public_host "$h" "${PUBLIC[$h]}"; done
    for m in "${MEMBERS[@]}"; do
        lab_host "r-${m#m-}"
        lab_attach_public "r-${m#m-}" "${PUBLIC[$m]}"
        lab_exec "r-${m#m-}" ip route add 198.18.0.0/16 via "${PUBLIC[$m]%.*}.254"
        _lab_router_inside "r-${m#m-}" symmetric "192.168.$k.0/24"
        lab_host "$m"
        lab_attach_lan "$m" "r-${m#m-}" "192.168.$k.2"
        k=$((k + 1))
    done
    for h in server "${MEMBERS[@]}" "${RELAYS[@]}"; do mkdir -p "$WORK/$h"; done
    server new --network-name "$NET" --network-cidr 10.91.0.0/16 \
        --external-endpoint "198.18.${REGION_NET[$SERVER_REGION]}.1:51820" --listen-port 51820 >/dev/null
    server add-cidr "$NET" --name members --cidr 10.91.1.0/24 --parent "$NET" >/dev/null
    for h in "${MEMBERS[@]}" "${RELAYS[@]}"; do invite "$h" >/dev/null; done
    start_server 10.91.0.1:51820
    install_all "${MEMBERS[@]}" "${RELAYS[@]}"
    # An install redeems the invitation, writes the config, then fetches the state once; with 36
    # installs at once through the delay line that fetch sometimes gives up after its 5 s (it says
    # so, keeps the config, and `formnet up` fetches again), which counts as installed here.
    for h in "${MEMBERS[@]}" "${RELAYS[@]}"; do
        if install_done "$h" || grep -q "the config written to .*, but the first fetch failed" "$WORK/$h.log"; then
            installed=$((installed + 1))
        fi
        member "$h" set-listen-port "$NET" --port 51820 >/dev/null
    done
    REGIONS_INSTALLED=$installed
}

start_member() { start_agent "$1" --geoip-db "$WORK/geo.mmdb"; }
start_relay() {
    lab_spawn "$1" "$FORMNET" start-relay --network "$NET" --config-dir "$WORK/$1/etc" --data-dir "$WORK/$1/data" \
        >>"$WORK/$1.relay.log" 2>&1
    RELAY_PID[$1]=$LAB_PID
}
relay_of_endpoint() { local r; for r in "${RELAYS[@]}"; do [ "${ENDPOINT[$r]}" != "$1" ] || echo "$r"; done; }
relays_json() { # relays_json HOST [PEER_KEY]: with PEER_KEY, the fourth word says whether PEER's route keeps it
    local endpoint registration health needed
    member "$1" list-relays "$NET" --json 2>/dev/null | python3 -c '
import json, sys
for r in json.load(sys.stdin)["relays"]:
    print(r["endpoint"], r.get("registration") or "-", r["health"], "needed" if sys.argv[1] in (r.get("neededBy") or []) else "-")' "${2:-}" \
    | while read -r endpoint registration health needed; do
        echo "$(relay_of_endpoint "$endpoint") $registration $health $needed"
    done
}
standing_of() { relays_json "$1" | awk '$2 == "standing" { print $1 }' | sort | tr '\n' ' ' | sed 's/ $//'; }
on_demand_of() { relays_json "$1" | awk '$2 == "on-demand" && $3 == "usable" { print $1 }' | sort | tr '\n' ' ' | sed 's/ $//'; }
on_demand_for() {
    relays_json "$1" "$(lab_exec "$2" wg show "$NET" public-key)" | awk '$2 == "on-demand" && $3 == "usable" && $4 == "needed" { print $1 }' \
        | sort | tr '\n' ' ' | sed 's/ $//'
}
relay_via() { relay_of_endpoint "$(via_of "$1" "$2")"; }
same_relay() {
    [ "$(path_of "$1" "$2")" = relayed ] && [ "$(path_of "$2" "$1")" = relayed ] && [ -n "$(relay_via "$1" "$2")" ] \
        && [ "$(relay_via "$1" "$2")" = "$(relay_via "$2" "$1")" ]
}
