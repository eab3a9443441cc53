#!/bin/sh
# tests/realos/customize.sh ROOT - mmdebstrap's customize hook for
# tests/realos/build.sh: makes the minbase tree a server the tests can drive.
set -eu
R=${1:?usage: customize.sh ROOT}

echo realos >"$R/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\trealos\n' >"$R/etc/hosts"
printf '/dev/vda2\t/\text4\terrors=remount-ro\t0\t1\n' >"$R/etc/fstab"
chroot "$R" passwd -d root >/dev/null

# root's shell on the serial console, logged in: the tests type on it.
# Its own unit, not serial-getty@ttyS0 (masked): that one waits for udev
# to announce ttyS0, and in the lab a server booting beside another
# reached multi-user.target and never got its getty; /dev/ttyS0 is there
# from the start (devtmpfs, the 8250 driver is built in)
cat >"$R/etc/systemd/system/hv-console.service" <<'U'
[Unit]
Description=root shell on ttyS0 for hv's tests
After=systemd-user-sessions.service
[Service]
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,57600,38400,9600 ttyS0 vt220
Type=idle
Restart=always
RestartSec=0
UtmpIdentifier=ttyS0
TTYPath=/dev/ttyS0
TTYReset=yes
TTYVHangup=yes
KillMode=process
IgnoreSIGPIPE=no
SendSIGHUP=yes
[Install]
WantedBy=multi-user.target
U
chroot "$R" systemctl mask -q serial-getty@ttyS0.service
# a quiet, plain shell: no colours, no pager, the prompt the tests wait for
cat >"$R/root/.profile" <<'P'
export PS1='realos# ' PAGER=cat SYSTEMD_PAGER=cat TERM=dumb
stty -echo 2>/dev/null
P

# the network: systemd-networkd with static addresses from the kernel
# command line: hv.addr=A/N for every adapter, or hv.addr=MAC@A/N for the
# one with that MAC (repeatable); none: 192.168.76.2/24. The default lives
# in /usr/lib, which the files hv-net writes in /run override.
mkdir -p "$R/usr/lib/systemd/network"
cat >"$R/usr/lib/systemd/network/10-hv.network" <<'N'
[Match]
Name=en* eth*

[Network]
Address=192.168.76.2/24
N
cat >"$R/usr/local/sbin/hv-net" <<'S'
#!/bin/sh
# hv.addr=[MAC@]A/N on the kernel command line: this server's addresses
n=0
mkdir -p /run/systemd/network
for w in $(cat /proc/cmdline); do
	case $w in hv.addr=*) v=${w#hv.addr=} ;; *) continue ;; esac
	n=$((n + 1))
	case $v in
	*@*) m="MACAddress=${v%%@*}" a=${v#*@} ;;
	*) m="Name=en* eth*" a=$v ;;
	esac
	printf '[Match]\n%s\n\n[Network]\nAddress=%s\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n' \
		"$m" "$a" >/run/systemd/network/0$n-hv.network
done
[ $n -eq 0 ] || ln -sf /dev/null /run/systemd/network/10-hv.network
S
chmod 755 "$R/usr/local/sbin/hv-net"
cat >"$R/etc/systemd/system/hv-net.service" <<'U'
[Unit]
Description=hv test server: address from the kernel command line
DefaultDependencies=no
Before=systemd-networkd.service
After=local-fs.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/hv-net

[Install]
WantedBy=systemd-networkd.service
U

# the marker the tests wait for: multi-user.target reached
cat >"$R/etc/systemd/system/hv-ready.service" <<'U'
[Unit]
Description=hv test server: say multi-user.target is reached
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo "HV-REALOS-READY boot_id=$(cat /proc/sys/kernel/random/boot_id) uptime=$(cut -d" " -f1 /proc/uptime)" >/dev/ttyS0'

[Install]
WantedBy=multi-user.target
U
chroot "$R" systemctl enable -q systemd-networkd.service hv-net.service hv-ready.service hv-console.service
# nothing waits for a network that is "online"
chroot "$R" systemctl disable -q systemd-networkd-wait-online.service 2>/dev/null || true
# no periodic jobs stealing the lab's CPU mid-test, nor a boot-time scrub cleanup (20 s of
# a 2-minute boot in the lab)
chroot "$R" systemctl mask -q apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
	fstrim.timer 2>/dev/null || true

# an initramfs with what finds the root on a VM's disk, not every driver
# Debian ships (MODULES=most: 36 MB that the lab's kernel unpacks and udev
# probes on every boot); as a server installed for its hardware would have
cat >"$R/etc/initramfs-tools/conf.d/hv.conf" <<'C'
MODULES=list
C
cat >>"$R/etc/initramfs-tools/modules" <<'M'
virtio_pci
virtio_blk
virtio_scsi
sd_mod
ata_piix
ext4
M
chroot "$R" update-initramfs -u -k all >/dev/null
