#!/usr/bin/env python3
"""Boot a built recon image once in QEMU and check what the live root does with the agent.

usage: kiwi/boot-test.py IMAGE [WORKDIR]      (root not needed; qemu-system-x86_64, xorriso,
                                               python3-pexpect; lsinitrd from dracut-core)
EXTRA_APPEND=ARGS adds kernel arguments (a PXE-booted peer's: `systemd.mask=var-lib-recon.mount`).
IMAGE: the ISO (attached as a CD-ROM) or a stick image from `make-recipe-target <r> virtual`
(attached as a virtio disk, so the RECONDATA partition gets mounted). The kernel and initrd are
taken from the image's /boot/x86_64/loader/ and booted directly with the command line of the
image's grub.cfg (firmware boot through grub costs minutes under TCG; the lab tested it).
QEMU: TCG, serial console, and no network at all (-nic none). Bounded by TIMEOUT (default 600 s);
QEMU is stopped by its PID at the end. Console log: WORKDIR/console.log.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pexpect

if len(sys.argv) not in (2, 3):
    sys.exit(__doc__)
IMAGE = os.path.abspath(sys.argv[1])
WORK = sys.argv[2] if len(sys.argv) == 3 else tempfile.mkdtemp(prefix='recon-boot-')
os.makedirs(WORK, exist_ok=True)
TIMEOUT = int(os.environ.get('TIMEOUT', '600'))
PASSWORD = os.environ.get('ROOT_PASSWORD', 'linux')
t_start = time.time()


def run(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout


kernel, initrd = os.path.join(WORK, 'linux'), os.path.join(WORK, 'initrd')
run(f'xorriso -osirrox on -indev {IMAGE} -extract /boot/x86_64/loader/linux {kernel} '
    f'-extract /boot/x86_64/loader/initrd {initrd}')
append = None
for cfg in ('/boot/grub2/grub.cfg', '/boot/grub/grub.cfg', '/EFI/BOOT/grub.cfg'):
    out = os.path.join(WORK, 'grub.cfg')
    run(f'xorriso -osirrox on -indev {IMAGE} -extract {cfg} {out}')
    if os.path.exists(out):
        for line in open(out):
            m = re.match(r'\s*linux\S*\s+\S+\s+(.*)', line)
            if m:
                append = re.sub(r'\$\{\w+\}', '', m.group(1))  # grub variables
                break
    if append:
        break
append = ' '.join((append or 'console=tty0 console=ttyS0,115200 root=live:CDLABEL=RECON rd.live.image').split())
# EXTRA_APPEND: more arguments, e.g. what the master adds for a PXE-booted peer
# (`systemd.mask=var-lib-recon.mount pxeaddr=...`).
if os.environ.get('EXTRA_APPEND'):
    append += ' ' + os.environ['EXTRA_APPEND']
print(f'kernel {os.path.getsize(kernel)} B, initrd {os.path.getsize(initrd)} B\nappend: {append}', flush=True)
mods = run(f'lsinitrd {initrd} 2>/dev/null | sed -n "/dracut modules:/,/^=*$/p"')
print('initrd has 90recon:', 'recon' in mods.split(), '| network-legacy:', 'network-legacy' in mods.split(),
      '| livenet:', 'livenet' in mods.split(), '| dmsquash-live:', 'dmsquash-live' in mods.split(),
      '| /usr/bin/recon:', 'usr/bin/recon' in run(f'lsinitrd {initrd} 2>/dev/null | grep -w usr/bin/recon'), flush=True)

media = ['-cdrom', IMAGE] if IMAGE.endswith('.iso') else \
    ['-drive', f'file={IMAGE},format=raw,if=virtio,snapshot=on']
# One TCG thread: multi-threaded TCG lost idle vCPUs' timer wakeups (tests/cross-check/guest.sh).
cmd = ['qemu-system-x86_64', '-accel', 'tcg,thread=single', '-m', '2048', '-smp', '2', '-display', 'none',
       '-serial', 'stdio', '-monitor', 'none', '-nic', 'none', '-no-reboot',
       '-kernel', kernel, '-initrd', initrd, '-append', append] + media
log = open(os.path.join(WORK, 'console.log'), 'w', buffering=1)
child = pexpect.spawn(cmd[0], cmd[1:], encoding='utf-8', codec_errors='replace', timeout=TIMEOUT)
child.logfile_read = log
print(f'qemu pid {child.pid}', flush=True)
probes = [
    'cat /proc/cmdline',
    'systemctl is-system-running',
    'systemctl status recon-agent.service --no-pager -n 12 -l | cut -c1-200',
    # when the agent started, from the kernel's start (0 s: not yet)
    "systemctl show recon-agent.service -p ExecMainStartTimestampMonotonic --value | awk '{printf \"%.1f s\\n\", $1 / 1e6}'",
    'systemctl status recon-boot-files.service --no-pager -n 0 | head -n 4',
    'ls -l /usr/share/recon/boot',
    'findmnt -n /',
    'lsblk -o NAME,SIZE,FSTYPE,LABEL',
    # the fstab line is nofail with a device timeout: did it mount, and does it mount once udev
    # has seen the partition?
    'systemctl status var-lib-recon.mount --no-pager -n 3 | head -n 8',
    'findmnt /var/lib/recon || { systemctl start var-lib-recon.mount; findmnt /var/lib/recon; }',
    'sleep 20; journalctl -b -u recon-agent --no-pager -o cat | tail -n 15',
    'ls -la /var/lib/recon | head',
]
result = {}
try:
    child.expect('login:')
    result['login after'] = f'{time.time() - t_start:.0f} s'
    child.sendline('root')
    child.expect('Password:')
    child.sendline(PASSWORD)
    child.expect(r'# ')
    child.sendline('export SYSTEMD_COLORS=0 TERM=dumb; stty cols 200')
    child.expect(r'# ')
    for c in probes:
        child.sendline(c + '; echo __RC=$?')
        child.expect(r'__RC=(\d+)', timeout=60)
        result[c] = child.before.split('\n', 1)[-1].strip() + f'  [rc={child.match.group(1)}]'
        child.expect(r'# ')
    child.sendline('systemctl poweroff')
    child.expect(pexpect.EOF, timeout=120)
except Exception as e:  # report what we have
    result['error'] = f'{type(e).__name__}: {str(e).splitlines()[0]}'
finally:
    if child.isalive():
        child.terminate(force=True)  # QEMU, by its PID
    log.close()
for k, v in result.items():
    print(f'-- {k}\n{v}', flush=True)
console = open(os.path.join(WORK, 'console.log'), errors='replace').read()
print('-- console lines about recon')
for line in console.splitlines():
    if 'recon' in line.lower() and '__RC' not in line and 'systemctl' not in line:
        print('   ' + line.strip()[:200])
print(f'-- total {time.time() - t_start:.0f} s; console log {WORK}/console.log')
ok = 'login after' in result and 'active (running)' in result.get(probes[2], '')
sys.exit(0 if ok else 1)
