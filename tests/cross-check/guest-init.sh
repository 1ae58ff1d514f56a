#!/bin/sh
# /init of the cross-check guest (busybox sh; guest.sh builds the initramfs around it).
#
# Loads the drivers for the virtual hardware, starts udevd (lsblk takes serials, models and WWNs
# from the udev database on a real system, so the guest must have one too), brings the NICs up
# (speed and duplex read only on an up link), changes one NIC's MAC so the current and the
# permanent address differ, runs `recon inventory` and every peer tool, and writes their outputs
# as one base64 tar.gz between markers on the second serial port, which carries nothing else
# (the kernel's console is the first). Then it powers off. A tool that fails does not stop the
# run: its exit code goes into rc.txt and the host fails on it. If this script itself dies, the
# kernel panics and QEMU (-no-reboot, panic=-1) exits, so the host sees a missing payload rather
# than a hang.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /run /tmp /out
mount -t tmpfs tmpfs /run
log() { echo "xcheck-guest: $*"; }

log "start $(cut -d' ' -f1 /proc/uptime)s"
while read -r ko; do
  insmod "$ko" || log "insmod $ko failed"
done < /etc/modules.order

# systemd-udevd is udevadm under another name; it needs /run/udev and the rules copied in.
/lib/systemd/systemd-udevd --daemon --resolve-names=never
udevadm trigger --action=add --type=subsystems
udevadm trigger --action=add --type=devices
udevadm settle --timeout=60 || log "udevadm settle timed out"

# The NIC the host script names by its PCI address gets a locally administered MAC: recon must
# then report that as `mac` and the address QEMU gave the card as `permanent_mac`.
new_mac=$(sed -n 's/.*xcheck.newmac=\([^ ]*\).*/\1/p' /proc/cmdline)
new_mac_pci=$(sed -n 's/.*xcheck.newmacpci=\([^ ]*\).*/\1/p' /proc/cmdline)
for n in /sys/class/net/*; do
  name=${n##*/}
  [ "$name" = lo ] && continue
  pci=$(readlink -f "$n/device")
  case "$pci" in
    */"$new_mac_pci"|*/"$new_mac_pci"/*) [ -n "$new_mac" ] && ip link set dev "$name" address "$new_mac" ;;
  esac
  ip link set dev "$name" up
done
# Wait (up to 15 s) until every NIC has a carrier, so speed and duplex are readable.
i=0
while [ $i -lt 75 ]; do
  down=0
  for n in /sys/class/net/*; do
    [ "${n##*/}" = lo ] && continue
    [ "$(cat "$n/carrier" 2>/dev/null)" = 1 ] || down=1
  done
  [ $down = 0 ] && break
  i=$((i + 1))
  usleep 200000
done
log "links settled after $i polls"

cd /out
run() { # run NAME CMD...: stdout to NAME, stderr to NAME.err, the exit code and time to rc.txt
  out=$1; shift
  t0=$(cut -d' ' -f1 /proc/uptime)
  "$@" > "$out" 2> "$out.err"
  rc=$?
  echo "$out rc=$rc start=$t0 end=$(cut -d' ' -f1 /proc/uptime)" >> rc.txt
}
run recon.json recon inventory --format json
run lshw.json lshw -json -numeric
run lspci.txt lspci -vmm -k -D -nn
run dmidecode.txt dmidecode
run lsblk.json lsblk -J -O -b
run lscpu.json lscpu -J
run lscpu-caches.json lscpu -J -C -B
: > ethtool.txt
for n in /sys/class/net/*; do
  name=${n##*/}
  [ "$name" = lo ] && continue
  for opt in -P -i ""; do
    echo "== ethtool $opt $name" >> ethtool.txt
    # shellcheck disable=SC2086
    ethtool $opt "$name" >> ethtool.txt 2>&1
  done
done
# What the kernel makes of the NVMe namespace ids QEMU was given (expect.py explains why).
for f in /sys/block/nvme*/wwid /sys/block/nvme*/eui /sys/block/nvme*/nguid /sys/block/nvme*/uuid; do
  [ -e "$f" ] && echo "$f=$(cat "$f")"
done > nvme-ids.txt 2>&1
uname -r > uname.txt
cp /proc/cmdline cmdline.txt
log "tools done $(cut -d' ' -f1 /proc/uptime)s"

tar -cf - . | gzip -c | base64 > /tmp/payload.b64
sum=$(sha256sum /tmp/payload.b64 | cut -d' ' -f1)
stty -F /dev/ttyS1 raw -echo
{
  echo "XCHECK-PAYLOAD-BEGIN"
  cat /tmp/payload.b64
  echo "XCHECK-PAYLOAD-END $sum"
} > /dev/ttyS1
sync
log "payload written ($(wc -c < /tmp/payload.b64) bytes), powering off"
poweroff -f
