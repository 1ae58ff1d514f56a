#!/bin/bash
# dracut module: the recon agent in the initramfs, for peers booted with
# `postaction=liveboot recon.path=initramfs` (the fast path: no ISO download). Without
# recon.path=initramfs the hook does nothing and the boot goes on to the live root, where the
# recon-agent.service (or the live root's init) runs the agent.
#
# The agent binary is taken from $RECON_BIN, else /usr/bin/recon on the build host.

check() {
    # Only when asked for (--add recon).
    return 255
}

depends() {
    echo network
    return 0
}

installkernel() {
    # The BMC for IPMI power-off and inventory; NVMe and SATA for disk identities.
    instmods ipmi_msghandler ipmi_devintf ipmi_si ipmi_ssif nvme ahci sd_mod
}

install() {
    local bin="${RECON_BIN:-/usr/bin/recon}"
    [ -x "$bin" ] || { derror "recon: agent binary $bin not found (set RECON_BIN)"; return 1; }
    inst_simple "$bin" /usr/bin/recon
    inst_hook cmdline 90 "$moddir/parse-recon.sh"
    inst_hook initqueue/online 90 "$moddir/recon-online.sh"
    inst_multiple -o modprobe
}
