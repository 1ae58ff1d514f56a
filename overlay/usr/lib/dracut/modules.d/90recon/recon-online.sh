#!/bin/sh
# initqueue/online hook ($1: the interface that came up). Runs before netroot, so on the fast
# path the live ISO is never fetched.
type getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh

[ "$(getarg postaction=)" = liveboot ] || return 0
[ "$(getarg recon.path=)" = initramfs ] || return 0
# One agent, even when several interfaces come up.
[ -e /run/recon.started ] && return 0
: > /run/recon.started

info "recon: running the agent in the initramfs on $1"
modprobe -q ipmi_devintf 2> /dev/null
mkdir -p /run/recon
RUST_LOG=info /usr/bin/recon agent --interface "$1" --data /run/recon --status /run/recon/agent.status < /dev/null > /dev/console 2>&1
# The agent returns only when it is done and the node stays up (no BMC to power it on again).
echo "recon: done; this node can be powered off" > /dev/console
: > /run/recon.done
while :; do sleep 3600; done
