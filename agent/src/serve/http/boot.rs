//! boot.ipxe: the iPXE script a node gets, with the seed's kernel arguments.

use std::collections::BTreeSet;

use netboot_proto::Mac;

/// The seed's consoles, on both peer paths: the screen (tty0) and one serial console. The kernel
/// registers one serial console only, the first `ttyS` named: ttyS1 (COM2, where most BMCs put
/// serial-over-LAN), which is also /dev/console; ttyS0 gets the early boot messages
/// (`earlyprintk`) and the firmware's (checked in QEMU: `/proc/consoles` lists tty0 and ttyS1).
pub const CONSOLES: &str = "nomodeset noquiet splash=off console=tty0 console=ttyS1,115200n8 console=ttyS0,115200n8 earlyprintk=serial,ttyS0,115200";

/// The seed's kernel arguments for a peer that boots the live image: dracut livenet fetches
/// the image over HTTP into RAM (`rd.live.ram=1`), the consoles ([`CONSOLES`]), and the seed's
/// words that a Debian kernel ignores (`iomem=relaxed ksdevice=bootif extra` are kept: harmless,
/// and tools that read the command line find what they expect). `rd.live.overlay.overlayfs=1`:
/// dracut 059 needs it for a squashfs that holds the root tree itself (the virtual rack's small
/// image). Not here: the seed's `rd.live.overlay.persistent rd.live.overlay.cowfs=ext4`, which
/// dracut 059's dmsquash-live never reads (kiwi/README.md, "Persistence"). A peer never mounts
/// a RECONDATA partition: only a master looks for one, on its own boot medium.
pub const SEED_ARGS: &str = "root=live:http://{master}/{iso} rd.live.ram=1 rd.live.image rd.live.overlay.overlayfs=1 \
    rd.neednet=1 ip=dhcp {consoles} iomem=relaxed ksdevice=bootif extra";

/// What goes into a node's iPXE script. Names are relative to the boot directory; in `args`,
/// `{master}` becomes the master's `address[:port]` and `{iso}` the image name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootConfig {
    /// The kernel.
    pub kernel: String,
    /// The initrd.
    pub initrd: String,
    /// The live image dracut fetches.
    pub iso: String,
    /// The kernel arguments of the full path ([`SEED_ARGS`]).
    pub args: String,
    /// More arguments after them.
    pub append: String,
    /// The arguments of the fast path instead of `args`: the agent runs in the initramfs and no
    /// image is fetched (overlay/'s 90recon dracut module).
    pub fast_args: String,
    /// Nodes that take the fast path.
    pub fast_macs: BTreeSet<Mac>,
    /// Every node takes the fast path.
    pub fast_all: bool,
}

impl Default for BootConfig {
    fn default() -> BootConfig {
        BootConfig {
            kernel: "vmlinuz".into(),
            initrd: "initrd.img".into(),
            iso: "recon.iso".into(),
            args: SEED_ARGS.replace("{consoles}", CONSOLES),
            append: String::new(),
            fast_args: format!("rd.neednet=1 ip=dhcp recon.path=initramfs {CONSOLES}"),
            fast_macs: BTreeSet::new(),
            fast_all: false,
        }
    }
}

/// The script for a node the master knows: kernel and initrd from the master, the arguments,
/// where it booted from, its upload token and its master (`address[:port]`). `BOOTIF` and
/// `pxeaddr` come from iPXE's own variables, as in the seed: `${mac:hexhyp}` is the MAC of the
/// interface iPXE booted from, dash-separated as pxelinux's `BOOTIF=01-...`, and
/// `${next-server}` the boot server DHCP named; the peer's agent reads them to know it is a peer.
pub fn boot_script(cfg: &BootConfig, master: &str, mac: Mac, token: &str) -> String {
    let fast = cfg.fast_all || cfg.fast_macs.contains(&mac);
    let args = if fast { &cfg.fast_args } else { &cfg.args };
    let args = args.replace("{master}", master).replace("{iso}", &cfg.iso);
    let mut line = format!("kernel http://{master}/{} initrd={} {args}", cfg.kernel, cfg.initrd);
    if !cfg.append.is_empty() {
        line.push(' ');
        line.push_str(&cfg.append);
    }
    format!(
        "#!ipxe\n{line} BOOTIF=01-${{mac:hexhyp}} pxeaddr=${{next-server}} postaction=liveboot recon.token={token} recon.master={master}\ninitrd http://{master}/{}\nboot\n",
        cfg.initrd
    )
}

/// The script for a client the master cannot name: iPXE fetches boot.ipxe again, saying its MAC.
pub fn chain_script(master: &str) -> String {
    format!("#!ipxe\nchain http://{master}/boot.ipxe?mac=${{mac:hexhyp}}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_scripts_carry_the_seed_args_token_and_master() {
        let one = Mac([0x52, 0x54, 0, 0, 0, 1]);
        let mut cfg = BootConfig { append: "panic=5".into(), ..BootConfig::default() };
        let s = boot_script(&cfg, "10.0.0.1:8080", one, "00ff");
        assert_eq!(
            s,
            "#!ipxe\nkernel http://10.0.0.1:8080/vmlinuz initrd=initrd.img root=live:http://10.0.0.1:8080/recon.iso \
             rd.live.ram=1 rd.live.image rd.live.overlay.overlayfs=1 rd.neednet=1 ip=dhcp nomodeset noquiet splash=off \
             console=tty0 console=ttyS1,115200n8 console=ttyS0,115200n8 earlyprintk=serial,ttyS0,115200 iomem=relaxed \
             ksdevice=bootif extra panic=5 \
             BOOTIF=01-${mac:hexhyp} pxeaddr=${next-server} postaction=liveboot recon.token=00ff recon.master=10.0.0.1:8080\n\
             initrd http://10.0.0.1:8080/initrd.img\nboot\n"
        );
        // The fast path: no image, the agent in the initramfs.
        cfg.fast_macs.insert(one);
        let s = boot_script(&cfg, "10.0.0.1", one, "00ff");
        assert!(s.contains("initrd=initrd.img rd.neednet=1 ip=dhcp recon.path=initramfs nomodeset"), "{s}");
        assert!(s.contains(" console=tty0 console=ttyS1,115200n8 console=ttyS0,115200n8 "), "{s}");
        assert!(!s.contains("root=live"), "{s}");
        let s = boot_script(&cfg, "10.0.0.1", Mac([0x52, 0x54, 0, 0, 0, 2]), "00ff");
        assert!(s.contains("root=live:"), "{s}");
        cfg.fast_all = true;
        assert!(!boot_script(&cfg, "10.0.0.1", Mac([0x52, 0x54, 0, 0, 0, 2]), "00ff").contains("root=live:"));
        assert_eq!(chain_script("10.0.0.1"), "#!ipxe\nchain http://10.0.0.1/boot.ipxe?mac=${mac:hexhyp}\n");
    }
}
