#!/bin/sh
# cmdline hook: on the fast path there is no root filesystem to mount; `root=recon` is claimed
# here (as livenet claims root=live:) so dracut does not stop at "No or empty root=", and the
# initqueue waits until the agent is done: the agent either powers the node off or holds it.
type getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh

if [ "$(getarg recon.path=)" = initramfs ]; then
    root=recon
    rootok=1
    echo '[ -e /run/recon.done ]' > "$hookdir/initqueue/finished/recon.sh"
fi
