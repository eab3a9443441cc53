#!/usr/bin/env bash
# Virtual switches on Linux bridges, checked with iproute2's JSON output:
# internal (the host's address on the bridge), private (no address at
# all), external (a veth uplink whose addresses and default routes move
# to the bridge and back, with a gateway still reachable), a VM's TAP on
# a switch and its VLAN, adapters on a switch blocking its delete, and
# bad input. Needs root; every part runs in network namespaces of its
# own, deleted at exit.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (network namespaces and bridges)"
command -v ip >/dev/null && command -v bridge >/dev/null || skip_all "needs iproute2 (ip, bridge)"
command -v python3 >/dev/null || skip_all "needs python3 (reads ip -j)"

TOOL=
for t in ${B:+"$B/tools/net-port"} "$(dirname "$(dirname "$HV")")/tools/net-port" \
	 "$(dirname "$HV")/tools/net-port" "$TOP/build/tools/net-port"; do
	[ -x "$t" ] && TOOL=$t && break
done

NSES=""
cleanup() {
	for n in $NSES; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

# a fresh namespace for each part, with its own inventory
new_ns() {
	NS=hvt$$-$1
	ip netns add "$NS" || { echo "Bail out! cannot create network namespace $NS"; exit 1; }
	NSES="$NSES $NS"
	ip -n "$NS" link set lo up
	export HV_HOME=$TMP/home-$1
}
nsrun() { ip netns exec "$NS" "$@"; }
hvns() {
	out=$(ip netns exec "$NS" "$HV" "$@" 2>"$TMP/stderr")
	rc=$?
	err=$(cat "$TMP/stderr")
}
py() { python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }
# global addresses of a link, "a/len ..." in the kernel's order
addrs() {
	ip -n "$NS" -j addr show dev "$1" 2>/dev/null |
		py 'print(" ".join(a["local"] + "/" + str(a["prefixlen"]) for i in d for a in i["addr_info"] if a.get("scope") == "global"))'
}
all_addrs() {
	ip -n "$NS" -j addr show dev "$1" 2>/dev/null |
		py 'print(" ".join(a["local"] for i in d for a in i["addr_info"]))'
}
link_field() {	# dev python-expression-on-link-l
	ip -n "$NS" -j -d link show dev "$1" 2>/dev/null | py "l = d[0]; print($2)"
}
defaults() {	# family: "via dev" of each default route
	ip -n "$NS" "$1" -j route show default 2>/dev/null |
		py 'print(" ".join(str(r.get("gateway")) + "@" + r["dev"] for r in d))'
}
vlans_of() {	# port: "vid[:P][:U] ..." ranges as lo-hi
	nsrun bridge -j vlan show dev "$1" 2>/dev/null | py '
out = []
for p in d:
    for v in p.get("vlans", []):
        s = str(v["vlan"]) + ("-" + str(v["vlanEnd"]) if "vlanEnd" in v else "")
        f = v.get("flags", [])
        s += (":P" if "PVID" in f else "") + (":U" if "Egress Untagged" in f else "")
        out.append(s)
print(" ".join(out))'
}

# --- internal and private ---------------------------------------------------
new_ns int
# can this kernel's bridges filter VLANs (CONFIG_BRIDGE_VLAN_FILTERING)?
VLANS=0
ip -n "$NS" link add hvprobe type bridge vlan_filtering 1 2>/dev/null && VLANS=1
ip -n "$NS" link del hvprobe 2>/dev/null
[ $VLANS -eq 1 ] || diag "this kernel's bridges filter no VLANs: VLAN checks are skipped"

hvns switch create lan --type internal --host-ip 192.168.77.1/24
ok $rc "internal switch with a host address: $out$err"
is "$(link_field hv-lan 'l["linkinfo"]["info_kind"]')" bridge "hv-lan is a bridge"
is "$(link_field hv-lan '"UP" in l["flags"]')" True "and up"
is "$(link_field hv-lan 'l["linkinfo"]["info_data"]["stp_state"]')" 0 "STP off"
if [ $VLANS -eq 1 ]; then
	is "$(link_field hv-lan 'l["linkinfo"]["info_data"]["vlan_filtering"]')" 1 "VLAN filtering on"
else
	echo "ok $((T_N += 1)) # SKIP VLAN filtering: not in this kernel"
fi
is "$(addrs hv-lan)" "192.168.77.1/24" "the host has 192.168.77.1/24 on it"
hvns switch create lan6 --type internal --host-ip fd00:77::1/64
ok $rc "internal switch with an IPv6 host address"
is "$(addrs hv-lan6)" "fd00:77::1/64" "the host has fd00:77::1/64 on it"
hvns switch create host-only --type internal
ok $rc "internal switch without an address"
is "$(addrs hv-host-only)" "" "no global address"

hvns switch create iso --type private
ok $rc "private switch"
is "$(link_field hv-iso 'l["linkinfo"]["info_kind"]')" bridge "hv-iso is a bridge"
is "$(all_addrs hv-iso)" "" "no address at all"
is "$(link_field hv-iso 'l.get("inet6_addr_gen_mode", "none")')" none "and no IPv6 link-local to come"

hvns switch list --json
is "$(printf '%s' "$out" | py 'print(",".join(":".join((s["name"], s["type"], s["bridge"], s["state"])) for s in d))')" \
   "host-only:internal:hv-host-only:up,iso:private:hv-iso:up,lan:internal:hv-lan:up,lan6:internal:hv-lan6:up" \
   "switch list --json: sorted, with bridges and state"
hvns switch show lan --json
is "$(printf '%s' "$out" | py 'print(d["host_ip"], d["bridge"], d["adapters"])')" "192.168.77.1/24 hv-lan []" "switch show --json"

# a name that does not fit an interface name is hashed, and recorded
hvns switch create lab.floor-3-east --type private
ok $rc "a switch with a long name"
br=$(printf '%s' "$("$HV" switch show lab.floor-3-east --json 2>/dev/null)" | py 'print(d["bridge"])')
[[ "$br" =~ ^hv-[0-9a-f]{8}$ ]]; ok $? "its bridge is hv- and a hash: $br"
is "$(link_field "$br" 'l["linkinfo"]["info_kind"]')" bridge "and it exists"

# adapters on a switch block its delete
hvns vm create web1 --memory 128M
hvns vm nic add web1 --switch lan --vlan 10 --max-bandwidth 100M --min-bandwidth 10M \
	--dhcp-guard --router-guard --acl deny,in,remote=10.0.0.0/24 --acl allow,both,local=10.0.0.2
ok $rc "vm nic add with VLAN, bandwidth, guards, ACLs: $out"
hvns vm nic add web1 --switch iso --mac 52:54:00:AA:00:01
ok $rc "a second adapter with a static MAC"
hvns vm show web1 --json
is "$(printf '%s' "$out" | py 'n = d["nics"]; print(len(n), n[0]["switch"], n[0]["vlan"], n[0]["max_bandwidth"], n[0]["min_bandwidth"], n[0]["dhcp_guard"], n[0]["router_guard"], n[0]["mac_guard"], n[0]["acls"], n[1]["mac"])')" \
   "2 lan 10 100000000 10000000 True True False ['deny,in,remote=10.0.0.0/24', 'allow,both,local=10.0.0.2'] 52:54:00:aa:00:01" \
   "vm show --json has both adapters and every setting"
printf '%s' "$out" | py 'import re; sys.exit(0 if re.fullmatch("52:54:00(:[0-9a-f]{2}){3}", d["nics"][0]["mac"]) else 1)'
ok $? "a generated MAC is 52:54:00:xx:xx:xx"
hvns vm show web1
printf '%s\n' "$out" | grep -q 'Network: *0: 52:54:00:.* on switch lan, VLAN 10, bandwidth max 100M min 10M, guards dhcp,router'
ok $? "vm show prints the adapter's switch, VLAN, bandwidth and guards"
hvns vm nic set web1 0 --vlan 0 --dhcp-guard off --mac-guard on --remove-acl deny,in,remote=10.0.0.0/24 --max-bandwidth 1G
ok $rc "vm nic set"
hvns vm nic list web1 --json
is "$(printf '%s' "$out" | py 'n = d[0]; print(n["vlan"], n["max_bandwidth"], n["dhcp_guard"], n["router_guard"], n["mac_guard"], n["acls"])')" \
   "0 1000000000 False True True ['allow,both,local=10.0.0.2']" "the changes took effect"
hvns vm export web1 "$TMP/web1.cfg"
hvns vm show web1 --json; before=$out
hvns vm delete web1
hvns vm import "$TMP/web1.cfg"
ok $rc "export, delete, import"
hvns vm show web1 --json
is "$out" "$before" "the adapters survive export and import"

hvns switch delete lan
is "$rc" 1 "deleting a switch a VM uses is refused"
one_error_line "switch in use"
printf '%s' "$err" | grep -q "web1.*hv vm nic remove"; ok $? "names the VM and the way out"
is "$(link_field hv-lan 'l["ifname"]')" hv-lan "the bridge is still there"
hvns vm nic remove web1 0
ok $rc "vm nic remove"
hvns vm nic list web1 --json
is "$(printf '%s' "$out" | py 'print(len(d), d[0]["slot"], d[0]["switch"])')" "1 0 iso" "the other adapter moved up to slot 0"
hvns switch delete lan
ok $rc "now the switch can go"
ip -n "$NS" link show hv-lan >/dev/null 2>&1
is $? 1 "and its bridge is gone"
for s in lan6 host-only lab.floor-3-east; do
	hvns switch delete $s
	ok $rc "switch delete $s"
done

# --- a VM's TAP on a switch ----------------------------------------------------
if [ -n "$TOOL" ]; then
	tap=$("$TOOL" names x web1 0 | cut -d' ' -f2)
	is "$tap" "hvt-web1-0" "the TAP of web1's first adapter is hvt-web1-0"
	nsrun "$TOOL" tap "$tap" hv-iso 0 bash -c '
		ip -j -d link show dev '"$tap"' > '"$TMP"'/tap.json
		bridge -j vlan show dev '"$tap"' > '"$TMP"'/vlan0.json 2>/dev/null
		'"$TOOL"' vlan '"$tap"' 10 2> '"$TMP"'/vlan10.err; echo $? > '"$TMP"'/vlan10.rc
		bridge -j vlan show dev '"$tap"' > '"$TMP"'/vlan10.json 2>/dev/null
		'"$TOOL"' vlan '"$tap"' 0; echo $? > '"$TMP"'/back0.rc
		bridge -j vlan show dev '"$tap"' > '"$TMP"'/back0.json 2>/dev/null'
	ok $? "net_tap_open + net_port_attach onto the private switch"
	is "$(py 'l = d[0]; print(l["linkinfo"]["info_kind"], l["master"], "UP" in l["flags"], l.get("inet6_addr_gen_mode"))' <"$TMP/tap.json")" \
	   "tun hv-iso True none" "a tun/tap port of hv-iso, up, without an IPv6 link-local"
	ip -n "$NS" link show "$tap" >/dev/null 2>&1
	is $? 1 "the TAP is gone once its fd is closed"
	vl() { py 'print(" ".join(str(v["vlan"]) + (":P" if "PVID" in v.get("flags", []) else "") + (":U" if "Egress Untagged" in v.get("flags", []) else "") for p in d for v in p.get("vlans", [])))' <"$1"; }
	if [ $VLANS -eq 1 ]; then
		is "$(vl "$TMP/vlan0.json")" "1:P:U" "VLAN 0: the default VLAN 1, untagged"
		is "$(cat "$TMP/vlan10.rc")" 0 "net_port_vlan 10"
		is "$(vl "$TMP/vlan10.json")" "10:P:U" "VLAN 10 only, pvid and untagged (an access port)"
		is "$(vl "$TMP/back0.json")" "1:P:U" "back to VLAN 0"
	else
		is "$(cat "$TMP/vlan10.rc")" 1 "VLAN 10 on a kernel without VLAN filtering fails"
		grep -q "CONFIG_BRIDGE_VLAN_FILTERING" "$TMP/vlan10.err"; ok $? "and says why: $(cat "$TMP/vlan10.err")"
		is "$(cat "$TMP/back0.rc")" 0 "VLAN 0 works without VLAN filtering"
		echo "ok $((T_N += 1)) # SKIP VLAN membership: this kernel's bridges filter no VLANs"
	fi
	nsrun "$TOOL" vlan lo 10 2>"$TMP/lo.err"
	is $? 1 "net_port_vlan on a non-port fails"
	is "$(wc -l <"$TMP/lo.err")" 1 "with one line: $(cat "$TMP/lo.err")"
else
	echo "ok $((T_N += 1)) # SKIP tests/tools/net-port is not built"
fi
hvns switch delete iso
is "$rc" 1 "private switch with web1's adapter: refused"

# while web1 runs (a worker holds its lock), its adapters stay as they are
mkdir -p "$HV_HOME/run"
(exec 9>"$HV_HOME/run/web1.lock"; flock -x 9; exec sleep 30) >/dev/null 2>&1 &
LOCKER=$!
sleep 0.2
sqlite3 "$HV_HOME/hv.db" "UPDATE vms SET state = 'Running', pid = $LOCKER WHERE name = 'web1'"
is "$(state_of web1)" Running "web1 reads as Running"
hvns switch delete iso
is "$rc" 1 "switch delete while a running VM is on it: refused"; one_error_line "running VM on the switch"
printf '%s' "$err" | grep -q "running VM web1"; ok $? "says the VM is running"
hvns vm nic add web1 --switch iso
is "$rc" 1 "vm nic add on a running VM: refused"; one_error_line "nic add while running"
printf '%s' "$err" | grep -q "is Running; turn it off"; ok $? "says why"
hvns vm nic set web1 0 --vlan 3
is "$rc" 1 "vm nic set on a running VM: refused"; one_error_line "nic set while running"
hvns vm nic remove web1 0
is "$rc" 1 "vm nic remove on a running VM: refused"; one_error_line "nic remove while running"
kill $LOCKER 2>/dev/null; wait $LOCKER 2>/dev/null
sqlite3 "$HV_HOME/hv.db" "UPDATE vms SET state = 'Off', pid = 0 WHERE name = 'web1'"
hvns vm delete web1
hvns switch delete iso
ok $rc "after the VM is gone it can be deleted"

# --- external -------------------------------------------------------------------
new_ns ext
NSGW=hvt$$-gw
ip netns add "$NSGW" && NSES="$NSES $NSGW"
ip -n "$NS" link add up0 type veth peer name gw0 netns "$NSGW"
ip -n "$NS" link set up0 up
ip -n "$NSGW" link set gw0 up
ip -n "$NS" addr add 10.9.0.2/24 dev up0
ip -n "$NS" addr add 10.9.0.3/24 dev up0
ip -n "$NS" addr add 2001:db8:9::2/64 dev up0 nodad
ip -n "$NSGW" addr add 10.9.0.1/24 dev gw0
ip -n "$NSGW" addr add 2001:db8:9::1/64 dev gw0 nodad
ip -n "$NS" route add default via 10.9.0.1
ip -n "$NS" -6 route add default via 2001:db8:9::1
ip -n "$NS" route add 172.16.0.0/16 via 10.9.0.1 metric 50
mac=$(link_field up0 'l["address"]')

hvns switch create wan --type external --nic up0
ok $rc "external switch on veth up0: $out$err"
is "$(link_field up0 'l.get("master")')" hv-wan "up0 is a port of hv-wan"
is "$(addrs hv-wan)" "10.9.0.2/24 10.9.0.3/24 2001:db8:9::2/64" "its addresses moved to the bridge"
is "$(addrs up0)" "" "and left up0"
is "$(defaults -4) $(defaults -6)" "10.9.0.1@hv-wan 2001:db8:9::1@hv-wan" "the default routes moved too"
is "$(ip -n "$NS" -j route show 172.16.0.0/16 | py 'print(d[0]["dev"], d[0]["metric"])')" "hv-wan 50" "and a static route, metric kept"
is "$(link_field hv-wan 'l["address"]')" "$mac" "the bridge has up0's MAC"
nsrun ping -c1 -W3 10.9.0.1 >/dev/null 2>&1; ok $? "the host still reaches its IPv4 gateway"
nsrun ping -6 -c1 -W3 2001:db8:9::1 >/dev/null 2>&1; ok $? "and its IPv6 gateway"
if [ $VLANS -eq 1 ]; then
	is "$(vlans_of up0)" "1:P:U 2-4094" "the uplink is a trunk: VLAN 1 untagged, 2..4094 tagged"
else
	echo "ok $((T_N += 1)) # SKIP uplink trunk: this kernel's bridges filter no VLANs"
fi
hvns switch show wan --json
is "$(printf '%s' "$out" | py 'print(d["type"], d["nic"], d["bridge"], d["state"])')" "external up0 hv-wan up" "switch show"
hvns switch create wan2 --type external --nic up0
is "$rc" 1 "the same NIC twice: refused"; one_error_line "NIC already an uplink"
hvns switch create brnic --type external --nic hv-wan
is "$rc" 1 "a bridge as uplink: refused"; one_error_line "bridge as uplink"

hvns switch delete wan
ok $rc "delete the external switch"
ip -n "$NS" link show hv-wan >/dev/null 2>&1
is $? 1 "its bridge is gone"
is "$(addrs up0)" "10.9.0.2/24 10.9.0.3/24 2001:db8:9::2/64" "up0 has its addresses back"
is "$(defaults -4) $(defaults -6)" "10.9.0.1@up0 2001:db8:9::1@up0" "and its default routes"
is "$(ip -n "$NS" -j route show 172.16.0.0/16 | py 'print(d[0]["dev"])')" up0 "and its static route"
is "$(link_field up0 'l.get("master", "-")')" - "up0 is nobody's port"
nsrun ping -c1 -W3 10.9.0.1 >/dev/null 2>&1; ok $? "the gateway is still reachable"

# --- bad input: one line, exit 2 (usage) or 1 (operation) --------------------------
new_ns bad
hvns switch create taken --type private
hvns vm create vm1 --memory 128M
while IFS='|' read -r want args; do
	[ -z "$want" ] && continue
	eval "set -- $args"
	hvns "$@"
	is "$rc" "$want" "exit $want: hv $args"
	one_error_line "hv $args"
done <<'CASES'
2|switch create s1 --type bogus
2|switch create s1
2|switch create s1 --type external
1|switch create s1 --type external --nic nosuchnic0
2|switch create s1 --type internal --host-ip 10.0.0.300/24
2|switch create s1 --type internal --host-ip 10.0.0.1
2|switch create s1 --type internal --host-ip banana
2|switch create s1 --type internal --host-ip 224.0.0.9/24
2|switch create s1 --type internal --host-ip ::1/128
2|switch create s1 --type internal --host-ip fe80::1/64%bogus
2|switch create s1 --type internal --nic lo
2|switch create s1 --type private --host-ip 10.0.0.1/24
2|switch create s1 --type external --nic lo
2|switch create 'bad name' --type private
1|switch create taken --type private
1|switch delete nosuch
1|switch show nosuch
2|vm nic add vm1 --switch taken --acl 'permit,in,remote=1.2.3.4'
2|vm nic add vm1 --switch taken --acl 'allow,in,remote=10.0.0.0/33'
2|vm nic add vm1 --switch taken --vlan 5000
2|vm nic add vm1 --switch taken --min-bandwidth 200M --max-bandwidth 100M
2|vm nic add vm1 --switch taken --max-bandwidth fast
2|vm nic add vm1 --switch taken --mac 01:00:5e:00:00:01
2|vm nic add vm1 --switch taken --mac 00:00:00:00:00:00
2|vm nic add vm1 --switch taken --dhcp-guard=maybe
2|vm nic add vm1
1|vm nic add nosuchvm --switch taken
1|vm nic add vm1 --switch nosuchswitch
2|vm nic add vm1 --switch taken --remove-acl 'allow,in,remote=any'
2|vm nic frob vm1
2|vm nic remove vm1
2|vm nic remove vm1 x
1|vm nic remove vm1 0
1|vm nic set vm1 3 --vlan 2
2|vm nic set vm1 0
1|vm nic list nosuchvm
CASES
# an interface already has the bridge's name; the kernel refuses an address
ip -n "$NS" link add hv-busy type veth peer name busy-peer
hvns switch create busy --type private
is "$rc" 1 "the bridge's name is taken by another interface: refused"; one_error_line "name taken"
printf '%s' "$err" | grep -q "hv-busy: a network interface with that name already exists"; ok $? "says so"
# the kernel refuses the host address after the bridge was made: undone
nsrun sysctl -qw net.ipv6.conf.default.disable_ipv6=1
hvns switch create v6 --type internal --host-ip fd00:6::1/64
is "$rc" 1 "IPv6 off, an IPv6 host address: refused"; one_error_line "kernel refuses the address"
printf '%s' "$err" | grep -q "hv-v6: cannot add address fd00:6::1/64"; ok $? "names the bridge and the address"
ip -n "$NS" link show hv-v6 >/dev/null 2>&1
is $? 1 "and the bridge made for it is gone"
nsrun sysctl -qw net.ipv6.conf.default.disable_ipv6=0
is "$(sqlite3 "$HV_HOME/hv.db" 'SELECT group_concat(name) FROM switches')" "taken" "only the one good switch exists"
is "$(sqlite3 "$HV_HOME/hv.db" 'SELECT count(*) FROM nics')" 0 "and no adapter was added"
is "$(ip -n "$NS" -j link show type bridge | py 'print(",".join(l["ifname"] for l in d))')" "hv-taken" "and no stray bridge"
hvns vm nic add vm1 --switch taken --mac 52:54:00:00:00:07
hvns vm create vm2 --memory 128M
hvns vm nic add vm2 --switch taken --mac 52:54:00:00:00:07
is "$rc" 1 "a MAC another VM has: refused"; one_error_line "MAC in use"
done_testing
