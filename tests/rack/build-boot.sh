#!/bin/bash
# Builds what the virtual rack's master serves, into OUT (default target/rack/boot):
#
#   vmlinuz           Debian's kernel (linux-image-amd64, unpacked by scripts/setup, never installed)
#   initrd.img        a dracut initrd: network + livenet + dmsquash-live + our 90recon module
#   recon.iso         a small LiveOS ISO (busybox, the static agent, overlay/usr/share/recon/
#                     live-init as /sbin/init, kernel modules) for the full path
#   undionly.kpxe, ipxe.efi, snponly.efi   iPXE, from Debian's ipxe package
#   recon             the static agent that went into both images
#
# Nothing is installed into the host's /boot or /usr/lib/dracut: dracut runs with a private
# copy of its module tree (dracutbasedir) that also holds overlay/'s 90recon.
# Work files are cached under target/rack/cache; a second run rebuilds only the images.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
OUT=${1:-$REPO/target/rack/boot}
CACHE=$REPO/target/rack/cache
mkdir -p "$OUT" "$CACHE"
log() { printf '[rack] %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null || { echo "build-boot.sh: $1 missing (apt-get install $2)" >&2; exit 1; }; }
need dracut dracut-core
need mksquashfs squashfs-tools
need xorriso xorriso
need cpio cpio
need depmod kmod
[ -x /bin/busybox ] || { echo "build-boot.sh: /bin/busybox missing (apt-get install busybox-static)" >&2; exit 1; }
[ -d /usr/lib/dracut/modules.d/90livenet ] || { echo "build-boot.sh: dracut livenet missing (apt-get install dracut-live dracut-network)" >&2; exit 1; }
[ -f /usr/lib/ipxe/undionly.kpxe ] || { echo "build-boot.sh: iPXE missing (apt-get install ipxe)" >&2; exit 1; }

# The kernel: Debian's, as scripts/setup unpacked it (scripts/fetch-kernel).
KROOT=${RECON_KERNEL_ROOT:-/var/cache/recon/kernel}
[ -d "$KROOT/lib/modules" ] || { echo "build-boot.sh: no kernel under $KROOT: run scripts/setup" >&2; exit 1; }
KVER=$(ls "$KROOT/lib/modules" | sort -V | tail -1)
cp "$KROOT/boot/vmlinuz-$KVER" "$OUT/vmlinuz"

# The static agent: no pci.ids table inside (peers send raw ids).
log "building the static agent"
RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR=$REPO/target/static \
  cargo build -q --locked --profile tiny -p agent --no-default-features --target x86_64-unknown-linux-gnu
BIN=$REPO/target/static/x86_64-unknown-linux-gnu/tiny/recon
install -m 755 "$BIN" "$OUT/recon"
log "agent: $(stat -c %s "$BIN") bytes, static"

# dracut with a private module tree: the system's plus overlay/'s 90recon.
DB=$CACHE/dracut
rm -rf "$DB"; mkdir -p "$DB"
cp -a /usr/lib/dracut/. "$DB/"
cp -a "$REPO/overlay/usr/lib/dracut/modules.d/90recon" "$DB/modules.d/"
mkdir -p "$CACHE/dracut.conf.d"
DRIVERS="virtio_net virtio_pci virtio_blk virtio_scsi e1000 e1000e squashfs loop iso9660 overlay ext4 dm_snapshot sr_mod cdrom ahci ata_piix sd_mod nvme ipmi_msghandler ipmi_devintf ipmi_si"
OMIT="plymouth i18n btrfs mdraid lvm crypt multipath iscsi nfs nbd fcoe cifs resume systemd systemd-initrd systemd-networkd dracut-systemd kernel-modules-extra nvdimm virtiofs lunmask"
log "building initrd.img (dracut, kernel $KVER)"
t0=$(date +%s)
dracutbasedir=$DB RECON_BIN=$BIN dracut --force --no-hostonly --no-hostonly-cmdline --kver "$KVER" \
  --kmoddir "$KROOT/lib/modules/$KVER" --conf /dev/null --confdir "$CACHE/dracut.conf.d" \
  --add "livenet dmsquash-live network network-legacy url-lib recon" --omit "$OMIT" \
  --drivers "$DRIVERS" --compress gzip "$OUT/initrd.img" > "$CACHE/dracut.log" 2>&1 \
  || { tail -30 "$CACHE/dracut.log" >&2; echo "build-boot.sh: dracut failed" >&2; exit 1; }
chmod a+r "$OUT/initrd.img"
log "initrd.img: $(stat -c %s "$OUT/initrd.img") bytes in $(( $(date +%s) - t0 )) s"

# The LiveOS ISO for the full path (squashfs holding the root tree; dracut 059 wants
# rd.live.overlay.overlayfs=1 for that layout).
W=$(mktemp -d "$CACHE/live.XXXXXX"); trap 'rm -rf "$W"' EXIT
R=$W/root
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,tmp,etc,root,var/lib/recon,lib/modules/$KVER}
cp /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"; done
install -m 755 "$REPO/overlay/usr/share/recon/live-init" "$R/sbin/init"
install -m 755 "$BIN" "$R/usr/bin/recon"
printf 'NAME="recon live"\nID=recon\n' > "$R/etc/os-release"
: > "$R/etc/modules.order"
for m in virtio_pci virtio_net e1000 e1000e nvme ahci sd_mod virtio_blk ipmi_msghandler ipmi_devintf ipmi_si; do
  modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" 2>/dev/null | awk '$1=="insmod"{print $2}' |
  while read -r ko; do
    rel=${ko#"$KROOT"/}; rel=${rel#./}
    grep -qxF "/$rel" "$R/etc/modules.order" && continue
    mkdir -p "$R/$(dirname "$rel")"; cp "$ko" "$R/$rel"; echo "/$rel" >> "$R/etc/modules.order"
  done
done
mkdir -p "$W/iso/LiveOS"
mksquashfs "$R" "$W/iso/LiveOS/squashfs.img" -comp xz -noappend -quiet -all-root
xorriso -as mkisofs -quiet -V RECON -R -J -o "$OUT/recon.iso" "$W/iso" 2>/dev/null
log "recon.iso: $(stat -c %s "$OUT/recon.iso") bytes"

cp /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/ipxe.efi "$OUT/"
[ -f /usr/lib/ipxe/snponly.efi ] && cp /usr/lib/ipxe/snponly.efi "$OUT/"
log "boot files in $OUT"
