#!/usr/bin/env bash
# hv disk create/info/check/convert/resize/compact/merge on raw images, and
# the one-line errors of the disk commands.
. "$(dirname "$0")/lib.sh"
command -v qemu-img >/dev/null || skip_all "qemu-img is not installed"
cd "$TMP" || exit 1

run_hv disk create a.raw --size 64M
ok $rc "create a raw image"
is "$(qemu-img info --output=json a.raw | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')" \
   67108864 "qemu-img sees 64M"
run_hv disk info a.raw --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["format"], d["virtual_size"], d["parent"] == "", d["chain"])')" \
   "raw 67108864 True []" "info --json"
run_hv disk info a.raw
printf '%s\n' "$out" | grep -q '^Virtual size: *64M'; ok $? "info shows the virtual size"

run_hv disk create a.raw --size 64M
is $rc 1 "create refuses an existing file"
one_error_line "existing file"
run_hv disk create b.raw
is $rc 2 "create without --size is a usage error"
one_error_line "no size"
run_hv disk create b.weird --size 1M
is $rc 2 "unknown extension without --format"
run_hv disk create b.weird --size 1M --format floppy
is $rc 2 "unknown --format"
run_hv disk create f.img --size 8M --fixed
ok $rc "create fixed raw (.img)"
[ "$(du -k f.img | cut -f1)" -ge 8192 ]; ok $? "fixed raw is allocated"

qemu-io -f raw -c 'write -P 0x11 0 64k' -c 'write -P 0x22 20M 3M' \
	-c 'write -P 0x33 64M-512 512' a.raw >/dev/null
run_hv disk convert a.raw b.raw
ok $rc "convert raw to raw"
qemu-img compare -q -f raw -F raw a.raw b.raw; ok $? "the copy is identical"
run_hv disk convert a.raw b.raw
is $rc 1 "convert never overwrites"
one_error_line "convert onto an existing file"
run_hv disk convert a.raw c.raw --fixed --dynamic
is $rc 2 "--fixed with --dynamic"
run_hv disk convert a.raw c.raw --json
ok $rc "convert --json"
printf '%s\n' "$out" | tail -1 | grep -q '"percent": 100'; ok $? "JSON progress ends at 100%"
run_hv disk convert missing.raw d.raw
is $rc 1 "missing source"
one_error_line "missing source"
[ ! -e d.raw ]; ok $? "no destination left behind"

run_hv disk resize a.raw 32M
is $rc 1 "shrink needs --shrink"
one_error_line "shrink refused"
run_hv disk resize a.raw 128M
ok $rc "grow"
run_hv disk resize a.raw 2X
is $rc 2 "a bad size is a usage error"
run_hv disk resize a.raw 64M --shrink
ok $rc "shrink with --shrink"
qemu-img compare -q -f raw -F raw a.raw b.raw; ok $? "content kept through resizes"

qemu-io -f raw -c 'write -z 40M 8M' a.raw >/dev/null
dd if=/dev/zero of=a.raw bs=1M seek=40 count=8 conv=notrunc status=none
before=$(du -k a.raw | cut -f1)
run_hv disk compact a.raw
ok $rc "compact"
after=$(du -k a.raw | cut -f1)
[ "$after" -lt "$before" ]; ok $? "compact gave back the zero blocks ($before K -> $after K)"
qemu-img compare -q -f raw -F raw a.raw b.raw; ok $? "content kept through compact"

run_hv disk check a.raw
is $rc 1 "check of raw: no check for this format"
one_error_line "raw check"
run_hv disk merge a.raw
is $rc 1 "merge without a parent"
one_error_line "merge without a parent"
run_hv disk info nothere.vhdx
is $rc 1 "info of a missing file"
one_error_line "missing file"

done_testing
