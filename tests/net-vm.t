#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# Issue 7 acceptance: VMs (the probe guest) on hv's virtual switches, each
# VM a worker with hv's virtio-net on a TAP, all inside network namespaces
# this test makes and deletes. Internal (the host pings the probe, UDP echo
# both ways), private (two probes talk, the host has no route), external
# (a veth uplink whose peer namespace is "the physical network"), VLANs,
# DHCP/router guards and ACLs with their counters, and a 50 Mbit/s limit
# measured at the receiver.
. "$(dirname "$0")/lib.sh"
NS_PREFIX=hvvm
PHYS=hvphys-$$
EXTRA_NS=$PHYS
. "$(dirname "$0")/lib-net.sh"
ip netns add "$PHYS"

# type a command on a VM's console and wait for its result line
res=""
probe_cmd() {	# vm "command ..."
	local word=${2%% *} before
	before=$(log_of "$1" | grep -c "^$word: ")
	host console "$HV_HOME/run/$1.sock" "$2"
	for _ in $(seq 1 $((200 * SLOW))); do
		[ "$(log_of "$1" | grep -c "^$word: ")" -gt "$before" ] && break
		sleep 0.1
	done
	res=$(log_of "$1" | grep "^$word: " | tail -1)
}
nic_stat() {	# vm python-expression-on-nic
	hvx vm show "$1" --json | python3 -c "import json,sys; n=json.load(sys.stdin)['runtime']['nics'][0]; print($2)"
}

# 1. internal: the host and the VM
run_hv switch create int0 --type internal --host-ip 10.0.0.1/24
ok $rc "an internal switch with the host at 10.0.0.1/24 ($err)"
probe_vm a "net-up ip=10.0.0.2/24; ready" --switch int0
ok $? "VM a on int0 is ready" || diag "$(log_of a)" "$(tail -5 "$HV_HOME/log/a.log" 2>/dev/null)"
log_of a | grep -q '^net-up: ok dev=0 .* link=up'; ok $? "the probe found hv's virtio-net, link up"
is "$(host ping 10.0.0.2 3)" "ping received=3" "the host pings the probe"
is "$(host echo 10.0.0.2 20)" "echo received=20" "UDP echo host -> probe: 20 of 20"
bg_host echo serve 10.0.0.1 7 6 echo
probe_cmd a "udp-send dst=10.0.0.1 port=7 count=20 size=300"
is "$res" "udp-send: ok sent=20 received=20" "UDP echo probe -> host: 20 of 20"

# 2. private: two probes, no host
run_hv switch create priv --type private
ok $rc "a private switch"
probe_vm b "net-up ip=10.1.0.2/24; ready" --switch priv && probe_vm c "net-up ip=10.1.0.3/24; ready" --switch priv
ok $? "VMs b and c on priv are ready"
probe_cmd c "udp-send dst=10.1.0.2 port=7 count=20 size=200"
is "$res" "udp-send: ok sent=20 received=20" "the two probes exchange UDP"
! nsx ip route get 10.1.0.2 >/dev/null 2>&1; ok $? "the host has no route to them"
is "$(nsx ip -j addr show dev hv-priv | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[0]["addr_info"]))')" 0 \
	"the private switch's bridge has no address at all"
hvx vm stop b >/dev/null; hvx vm stop c >/dev/null

# 3. external: a veth uplink; its peer is the physical network
nsx ip link add uplink0 type veth peer name wire0
nsx ip link set wire0 netns "$PHYS"
nsx ip addr add 192.168.77.1/24 dev uplink0
nsx ip link set uplink0 up
ip -n "$PHYS" link set lo up
ip -n "$PHYS" addr add 192.168.77.100/24 dev wire0
ip -n "$PHYS" link set wire0 up
run_hv switch create ext --type external --nic uplink0
ok $rc "an external switch on uplink0 ($err)"
nsx ip -j addr show dev hv-ext | grep -q '"local":"192.168.77.1"'; ok $? "the host's address moved to the bridge"
! nsx ip -j addr show dev uplink0 | grep -q '"family":"inet"'; ok $? "and left the uplink"
probe_vm d "net-up ip=192.168.77.2/24; ready" --switch ext
ok $? "VM d on ext is ready"
is "$(ip netns exec "$PHYS" python3 "$HOSTPY" ping 192.168.77.2 3)" "ping received=3" \
	"the physical network reaches the probe"
is "$(ip netns exec "$PHYS" python3 "$HOSTPY" ping 192.168.77.1 3)" "ping received=3" \
	"and still reaches the host"
hvx vm stop d >/dev/null

# 4. VLANs on one switch
run_hv switch create vl --type private
probe_vm e "net-up ip=10.2.0.1/24; ready" --switch vl --vlan 10 &&
	probe_vm f "net-up ip=10.2.0.2/24; ready" --switch vl --vlan 10 &&
	probe_vm g "net-up ip=10.2.0.3/24; ready" --switch vl --vlan 20
ok $? "VMs e, f (VLAN 10) and g (VLAN 20) are ready"
probe_cmd f "udp-send dst=10.2.0.1 port=7 count=10 size=100"
is "$res" "udp-send: ok sent=10 received=10" "same VLAN: they talk"
probe_cmd g "udp-send dst=10.2.0.1 port=7 count=10 size=100"
ok $(printf '%s' "$res" | grep -q '^udp-send: FAIL no ARP reply'; echo $?) "another VLAN: they cannot ($res)"
hvx vm stop e >/dev/null; hvx vm stop f >/dev/null; hvx vm stop g >/dev/null

# 5. guards and ACLs; first what a VM without guards can do
bg_host sniff0 sniff hv-int0 $((10 * SLOW)) 2	# until it has seen two kinds (10 s was too short in a loaded lab)
probe_cmd a "forge-dhcp-offer"
probe_cmd a "forge-ra"
is "$(bg_result sniff0)" "seen dhcp-offer router-advert" "without guards a forged offer and RA reach the switch"
probe_vm h "net-up ip=10.0.0.5/24; ready" --switch int0 --dhcp-guard --router-guard
ok $? "VM h with DHCP and router guards is ready"
bg_host sniff sniff hv-int0 4
probe_cmd h "forge-dhcp-offer"
probe_cmd h "forge-ra"
is "$(bg_result sniff)" "seen " "no forged offer or RA reaches the switch"
is "$(nic_stat h 'n["drops"]["dhcp_guard"], n["drops"]["router_guard"]')" "1 1" \
	"the counters show one drop by each guard"
probe_vm i "net-up ip=10.0.0.6/24; ready" --switch int0 --acl deny,both,remote=10.0.0.1/32
ok $? "VM i with an ACL denying 10.0.0.1 both ways is ready"
is "$(host ping 10.0.0.6 2)" "ping received=0" "inbound: the host's pings do not reach it"
bg_host sink serve 10.0.0.1 5009 3 sink
probe_cmd i "udp-send dst=10.0.0.1 port=5009 count=10 size=100 wait=200"
ok $(printf '%s' "$(bg_result sink)" | grep -q '^served packets=0 '; echo $?) "outbound: nothing it sends reaches the host"
probe_cmd i "udp-send dst=10.0.0.2 port=7 count=10 size=100"
is "$res" "udp-send: ok sent=10 received=10" "the rest of the switch is still reachable"
ok $([ "$(nic_stat i 'n["drops"]["acl"]')" -ge 12 ]; echo $?) "the ACL drops are counted"
hvx vm stop h >/dev/null; hvx vm stop i >/dev/null
run_hv vm metrics h --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin)["network"][0]["drops"]; print(d["dhcp_guard"], d["router_guard"])')" \
	"1 1" "hv vm metrics: the guards' drops are in the inventory after the VM stopped"

# 6. QoS: 50 Mbit/s measured by the receiver (10 in the lab, where TCG
# keeps the guest and the receiver well below 50)
CAP=$((SLOW > 1 ? 10 : 50))
probe_vm q "net-up ip=10.0.0.7/24; ready" --switch int0 --max-bandwidth ${CAP}M
ok $? "VM q limited to $CAP Mbit/s is ready"
bg_host qos serve 10.0.0.1 5010 $((6 * SLOW)) sink
probe_cmd q "udp-stream dst=10.0.0.1 port=5010 seconds=3 size=1400"
mbit=$(bg_result qos | grep -o 'mbit=[0-9.]*' | cut -d= -f2)
# the limit counts whole frames: 1400 bytes of payload are 1442 on the wire
ok $(python3 -c "import sys; m=float('${mbit:-0}') * 1442 / 1400; sys.exit(not $CAP * 0.9 <= m <= $CAP * 1.1)"; echo $?) \
	"the receiver measures ${mbit:-?} Mbit/s of payload ($CAP Mbit/s of frames, within 10%)"
served=$(bg_result qos | grep -o 'packets=[0-9]*' | cut -d= -f2)
run_hv vm metrics q --json
sent=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["network"][0]["tx_packets"])')
ok $([ "${sent:-0}" -ge "${served:-1}" ] && [ "${sent:-0}" -le $((${served:-0} + 20)) ]; echo $?) \
	"hv vm metrics of the running VM: $sent packets sent, the receiver counted $served"
run_hv vm metrics q
printf '%s\n' "$out" | grep -q "^  sent  *$sent packets"; ok $? "and says so for people"
run_hv vm metrics q --reset
run_hv vm metrics q --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["network"][0]["tx_bytes"] < 1000)')" True \
	"--reset starts counting again"
hvx vm stop q >/dev/null
done_testing
