#!/bin/bash
# Runs chrooted in the image root at the end of "prepare", after root/ (the repo's overlay/,
# the static agent, this recipe's root/) was copied in.
set -euxo pipefail
test -f /.kconfig && . /.kconfig
test -f /.profile && . /.profile
echo "Configure image: [${kiwi_iname}] profiles: [${kiwi_profiles:-}]"

# baseproduct link (SUSE only)
suseSetupProduct

# The agent and its units must be there: fail the build otherwise.
test -x /usr/bin/recon
test -f /usr/lib/dracut/modules.d/90recon/module-setup.sh

# overlay/etc/fstab.d/recon.fstab: the RECONDATA line (nofail) goes into /etc/fstab once.
if ! grep -q 'LABEL=RECONDATA' /etc/fstab 2>/dev/null; then
    cat /etc/fstab.d/recon.fstab >> /etc/fstab
fi
mkdir -p /var/lib/recon

# systemctl enable fails loudly (set -e) when a unit is missing;
# baseInsertService (suseInsertService) silently skips unknown units.
# No NetworkManager: the agent configures its links itself (master or peer), as on Debian.
systemctl enable recon-agent.service
systemctl enable recon-boot-files.service
systemctl enable sshd.service
baseInsertService lldpd

baseSetRunlevel multi-user.target
