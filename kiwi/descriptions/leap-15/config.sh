#!/bin/bash
# Runs chrooted in the image root at the end of "prepare", after root/ (the repo's overlay/,
# the static agent, this recipe's root/) was copied in.
set -euxo pipefail
test -f /.kconfig && . /.kconfig
test -f /.profile && . /.profile
echo "Configure image: [${kiwi_iname}] profiles: [${kiwi_profiles:-}]"

# baseproduct link (SUSE only)
suseSetupProduct

# recon's units, consoles, root password and sshd (kiwi/root/usr/libexec/recon/image-setup).
# No NetworkManager: the agent configures its links itself (master or peer), as on Debian.
/usr/libexec/recon/image-setup sshd.service
baseInsertService lldpd

baseSetRunlevel multi-user.target
