#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# lab: long (make check-long: about 5 minutes in the lab)
# Issue 17: storage QoS measured by fio in a real Debian server, through
# Linux's own virtio_blk: a data disk with --max-iops gives that many
# normalized (8 KiB) IOPS, +-10%, to 4 KiB random reads at depth 8, while
# the root disk, without a limit, serves at least 1.3 times as many. The
# limit is 500 IOPS where the host can do 1000 or more unlimited, else 100
# (the lab's emulated CPU may not reach 1000).
. "$(dirname "$0")/lib.sh"
[ -w /dev/kvm ] || skip_all "no /dev/kvm (make check-long runs this in scripts/lab)"
. "$(dirname "$0")/realos/lib.sh"
trap '"$HV" vm stop fq >/dev/null 2>&1; "$HV" vm stop fu >/dev/null 2>&1; rm -rf "$TMP"' EXIT

fio_iops() {	# vm device seconds: 4 KiB random reads at depth 8, IOPS
	ros_run "$1" "fio --name=q --filename=$2 --readonly --direct=1 --rw=randread --bs=4k --iodepth=8 --ioengine=libaio --runtime=$3 --time_based --size=200M 2>&1 | sed -n 's/.*read: IOPS=\\([0-9.k]*\\).*/\\1/p'" $(($3 * 3 + 60)) |
		awk '/k$/ { sub(/k$/, ""); print int($1 * 1000); next } { print int($1) }'
}

"$HV" disk create "$TMP/data.vhdx" --size 512M >/dev/null
ros_create fu 2 --vcpus 2 --memory 768M --disk "$TMP/data.vhdx"
ok $? "a server with a second disk"
ros_boot fu
ok $? "it reaches multi-user.target and a shell"
ros_run fu 'dd if=/dev/urandom of=/dev/vdb bs=1M count=200 oflag=direct 2>/dev/null; echo written' 600 | grep -q written
ok $? "the guest fills 200 MiB of the data disk"
S=$((SLOW > 1 ? 20 : 10))
free=$(fio_iops fu /dev/vdb $S)
ok $([ "${free:-0}" -gt 0 ]; echo $?) "fio: unlimited, the data disk serves ${free:-?} IOPS"
ros_hv vm shutdown fu --timeout $((90 * SLOW)) >/dev/null
LIMIT=$(( ${free:-0} >= 1000 ? 500 : 100 ))
diag "the limit for this host: $LIMIT IOPS (unlimited: ${free:-?})"

# the same disks, the data disk limited
ros_hv vm delete fu >/dev/null	# its disks stay
ros_hv vm create fq --gen 2 --kernel "$FIX/vmlinuz" --initrd "$FIX/initrd.img" --cmdline "$ROS_CMDLINE" \
	--vcpus 2 --memory 768M --disk "$TMP/fu.vhdx" --disk "$TMP/data.vhdx" >/dev/null &&
	ros_hv vm disk set fq 1 --max-iops $LIMIT >/dev/null
ok $? "the same server with its data disk limited to $LIMIT normalized IOPS"
ros_boot fq
ok $? "it reaches multi-user.target and a shell"
lim=$(fio_iops fq /dev/vdb $S)
ok $(python3 -c "import sys; v = int('${lim:-0}'); sys.exit(not $LIMIT * 0.9 <= v <= $LIMIT * 1.1)"; echo $?) \
	"fio: the limited disk serves ${lim:-?} IOPS ($LIMIT +-10%)"
root=$(fio_iops fq /dev/vda $S)
# (the root is a differencing VHDX, slower than the raw data disk: in the
# lab 732 against the data disk's 1048 unlimited)
ok $([ "${root:-0}" -ge $((LIMIT * 13 / 10)) ]; echo $?) "the root disk, unlimited, serves ${root:-?} IOPS (at least 1.3 times the limit: the limit is what held the data disk back)"
o=$(ros_dmesg_bad fq)
is "$o" "" "no Oops, WARN, hung task or stall in the guest's dmesg"
[ $T_FAIL -gt 0 ] && diag "console:" "$(log_of fq | tail -n 30)"
done_testing
