#!/bin/bash
# Runs chrooted in the image root at the end of "prepare", after root/ (the repo's overlay/,
# kiwi/root/, the static agent, this recipe's root/) was copied in.
set -euxo pipefail
test -f /.kconfig && . /.kconfig
test -f /.profile && . /.profile
echo "Configure image: [${kiwi_iname}] profiles: [${kiwi_profiles:-}]"

# recon's units, consoles, root password and sshd (kiwi/root/usr/libexec/recon/image-setup).
/usr/libexec/recon/image-setup ssh.service
baseInsertService lldpd
