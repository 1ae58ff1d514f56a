#!/bin/bash
# Runs chrooted in the image root at the end of "prepare", after root/ (the repo's overlay/,
# the static agent, this recipe's root/) was copied in.
set -euxo pipefail
test -f /.kconfig && . /.kconfig
test -f /.profile && . /.profile
echo "Configure image: [${kiwi_iname}] profiles: [${kiwi_profiles:-}]"

# The agent and its units must be there: fail the build otherwise.
test -x /usr/bin/recon
test -f /usr/lib/dracut/modules.d/90recon/module-setup.sh

# overlay/etc/fstab.d/recon.fstab: the RECONDATA line (nofail) goes into /etc/fstab once.
if ! grep -q 'LABEL=RECONDATA' /etc/fstab 2>/dev/null; then
    cat /etc/fstab.d/recon.fstab >> /etc/fstab
fi
mkdir -p /var/lib/recon

# systemctl enable fails loudly (set -e) if a unit is missing;
# baseInsertService silently skips unknown units.
systemctl enable recon-agent.service
systemctl enable recon-boot-files.service
systemctl enable ssh.service
baseInsertService lldpd
systemctl set-default multi-user.target
