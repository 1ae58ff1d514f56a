//! `recon serve`: the master's services on one interface: DHCP (67, and 4011 for PXE boot
//! server requests), TFTP (69, for the iPXE binaries), DNS (53) and HTTP (80), sharing one data
//! directory (`runtime::store`). DHCP, TFTP and DNS run as tasks on this thread's executor; HTTP
//! on worker threads of its own; the store and the lease journal each have a writer thread.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use netboot_proto::Mac;

use crate::runtime;
use crate::runtime::store::Store;
use crate::serve::dhcp::{Boot, Config, Mode, Subnet};

/// `--dhcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DhcpChoice {
    Auto,
    Fixed(Mode),
}

/// What `recon serve` was asked to do.
#[derive(Debug, Clone)]
pub(crate) struct ServeArgs {
    pub(crate) interface: String,
    /// Address to give the interface, `A.B.C.D/P`; else its current first IPv4 address. It is
    /// probed for first (RFC 5227, runtime/arp.rs): in use, the master does not start.
    pub(crate) address: Option<(Ipv4Addr, u8)>,
    /// Addresses to try, in order, when `address` is in use (the agent's defaults).
    pub(crate) spare_addresses: Vec<(Ipv4Addr, u8)>,
    pub(crate) boot: PathBuf,
    pub(crate) data: PathBuf,
    pub(crate) dhcp: DhcpChoice,
    /// The master's DNS names (the seed uses `bang`).
    pub(crate) names: Vec<String>,
    pub(crate) domain: Option<String>,
    pub(crate) lease_secs: u32,
    pub(crate) probe: Duration,
    /// How often the interlock probes for another DHCP server while serving full DHCP.
    pub(crate) reprobe: Duration,
    /// A full pool's reclaim probes addresses bound, renewed or declined at least this long ago.
    pub(crate) reclaim_after: Duration,
    pub(crate) relays: Vec<Subnet>,
    pub(crate) router: Option<Ipv4Addr>,
    /// Kernel arguments appended to every node's boot.ipxe (`console=ttyS0`, ...).
    pub(crate) append: String,
    /// Nodes that take the fast path (agent in the initramfs, no image).
    pub(crate) fast_macs: Vec<Mac>,
    /// Every node takes the fast path.
    pub(crate) fast_all: bool,
    /// The power-off policy the manifest gives peers.
    pub(crate) peer_poweroff: Option<String>,
    /// Names served from the first octets of a device (the live ISO on the boot medium).
    pub(crate) extents: Vec<(String, PathBuf, u64)>,
    /// The agent mounted RECONDATA on the data directory: a finish unmounts it.
    pub(crate) unmount_on_finish: bool,
    /// A master booted from its stick: the board on this machine finds it
    /// (`board::MASTER_URL_FILE`).
    pub(crate) on_stick: bool,
    /// The operator's finish powers this machine off.
    pub(crate) poweroff_on_finish: bool,
    /// A node quiet this long before it is done is stuck (the board says where).
    pub(crate) stuck: Duration,
    /// What the agent found on the segment that turned `auto` off (another DHCP server, a host
    /// with an address): said on the console and the board as `auto`'s own probe would.
    pub(crate) not_alone: Option<String>,
}

impl ServeArgs {
    /// `recon serve`'s defaults; interface, boot and data still to be given.
    pub(crate) fn new() -> ServeArgs {
        ServeArgs {
            interface: String::new(),
            address: None,
            spare_addresses: Vec::new(),
            boot: PathBuf::new(),
            data: PathBuf::new(),
            dhcp: DhcpChoice::Auto,
            names: Vec::new(),
            domain: None,
            lease_secs: 3600,
            probe: Duration::from_secs(4),
            reprobe: Duration::from_secs(30),
            reclaim_after: Duration::from_secs(u64::from(crate::serve::dhcp::RECLAIM_AFTER_SECS)),
            relays: Vec::new(),
            router: None,
            append: String::new(),
            fast_macs: Vec::new(),
            fast_all: false,
            peer_poweroff: None,
            extents: Vec::new(),
            unmount_on_finish: false,
            on_stick: false,
            poweroff_on_finish: false,
            stuck: Duration::from_millis(crate::serve::fleet::STUCK_MS),
            not_alone: None,
        }
    }
}

/// An interface named on the command line must exist: waiting on a name that is not there (a
/// typo, a NIC without its driver) would wait forever.
pub(crate) fn check_interface(name: &str) -> anyhow::Result<()> {
    if nix::net::if_::if_nametoindex(name).is_ok() {
        return Ok(());
    }
    let mut have: Vec<String> = std::fs::read_dir("/sys/class/net")
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    have.sort();
    anyhow::bail!("no interface {name:?} on this machine (there are: {})", have.join(", "))
}

/// The boot directory must exist; without an iPXE binary for a firmware, that firmware's PXE
/// clients cannot boot: the warnings say which.
pub(crate) fn check_boot_dir(boot: &std::path::Path) -> anyhow::Result<Vec<String>> {
    anyhow::ensure!(boot.is_dir(), "--boot {}: no such directory", boot.display());
    let mut warnings = Vec::new();
    for (file, who) in [("undionly.kpxe", "BIOS"), ("ipxe.efi", "UEFI")] {
        if !boot.join(file).is_file() {
            warnings.push(format!(
                "serve: no {file} in {}: {who} PXE clients cannot boot (apt-get install ipxe, or copy it from /usr/lib/ipxe)",
                boot.display()
            ));
        }
    }
    Ok(warnings)
}

/// `A.B.C.D/P`.
pub(crate) fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (a, p) = s.split_once('/')?;
    let p: u8 = p.parse().ok()?;
    (p <= 32).then_some((a.parse().ok()?, p))
}

/// `NET/P:FIRST-LAST[:ROUTER]`: a subnet behind a relay agent and its pool.
pub(crate) fn parse_relay(s: &str) -> Option<Subnet> {
    let mut parts = s.split(':');
    let (net, prefix) = parse_cidr(parts.next()?)?;
    let (lo, hi) = parts.next()?.split_once('-')?;
    let router = match parts.next() {
        Some(r) => Some(r.parse().ok()?),
        None => None,
    };
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    Some(Subnet {
        network: Ipv4Addr::from(u32::from(net) & mask),
        prefix,
        pool: (lo.parse().ok()?, hi.parse().ok()?),
        router,
    })
}

fn interface_mac(iface: &str) -> anyhow::Result<Mac> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{iface}/address"))
        .with_context(|| format!("no interface {iface}"))?;
    Mac::parse(text.trim()).ok_or_else(|| anyhow::anyhow!("{iface}: not an Ethernet address: {}", text.trim()))
}

/// The interface's first IPv4 address and prefix. getifaddrs(3) lists an interface once per
/// address family, its link (AF_PACKET) entry first: only the AF_INET ones count.
pub(crate) fn interface_v4(iface: &str) -> Option<(Ipv4Addr, u8)> {
    nix::ifaddrs::getifaddrs().ok()?.filter(|ifa| ifa.interface_name == iface).find_map(|ifa| {
        let addr = ifa.address.as_ref()?.as_sockaddr_in()?.ip();
        let mask = u32::from(ifa.netmask.as_ref()?.as_sockaddr_in()?.ip());
        Some((addr, u8::try_from(mask.count_ones()).unwrap_or(32)))
    })
}

/// Copies the DHCP, TFTP and DNS counters (which live on this thread) into the store every
/// second, where the HTTP workers answer `GET /api/v1/stats` from; the DHCP loop itself never
/// waits for this.
async fn publish_counters(
    store: Arc<Store>,
    dhcp: Rc<RefCell<runtime::dhcp::Dhcp>>,
    tftp: Rc<runtime::tftp::Stats>,
    dns: Rc<runtime::dns::Stats>,
) {
    loop {
        // The DHCP loop borrows it only between its awaits: never busy here, but no panic if so.
        let d = dhcp.try_borrow().map(|d| d.counters());
        {
            let mut f = store.fleet();
            if let Ok(d) = d {
                f.set_counters("dhcp", &d);
            }
            f.set_counters("tftp", &tftp.counters());
            f.set_counters("dns", &dns.counters());
        }
        smol::Timer::after(Duration::from_secs(1)).await;
    }
}

/// Says, loudly and on the console too, that what this master receives is not kept.
fn not_kept(why: &str) -> String {
    let msg = format!(
        "recon: THIS MASTER KEEPS NOTHING: {why}. Inventories are lost when it powers off, and peers \
         will stay up instead of powering off. Boot a stick with a RECONDATA partition \
         (kiwi/README.md) to keep them."
    );
    runtime::console(&msg);
    msg
}

/// The first of `wanted` and `spares` that no host on `iface` has (ARP probes, RFC 5227),
/// unless `iface` has it already. None free: an error naming who has them.
fn free_address(iface: &str, wanted: (Ipv4Addr, u8), spares: &[(Ipv4Addr, u8)]) -> anyhow::Result<(Ipv4Addr, u8)> {
    if interface_v4(iface).is_some_and(|(a, _)| a == wanted.0) {
        return Ok(wanted);
    }
    let mac = interface_mac(iface)?;
    let mut taken = Vec::new();
    for &(ip, prefix) in std::iter::once(&wanted).chain(spares) {
        match smol::block_on(runtime::arp::probe(iface, mac, ip)) {
            Ok(None) => {
                if !taken.is_empty() {
                    log::warn!("master: {} in use on {iface}; serving as {ip}/{prefix}", taken.join(", "));
                }
                return Ok((ip, prefix));
            }
            Ok(Some(other)) => {
                runtime::console(&format!(
                    "recon: {ip} IS ALREADY IN USE on {iface} by {other} (ARP probe, RFC 5227): not taking it"
                ));
                taken.push(format!("{ip} (by {other})"));
            }
            Err(e) => {
                // No packet socket (no CAP_NET_RAW): the address cannot be checked; say so.
                log::warn!("master: cannot probe {iface} for {ip} ({e}); taking it unchecked");
                return Ok((ip, prefix));
            }
        }
    }
    anyhow::bail!(
        "every address recon may take on {iface} is in use: {}; give a free one with --address",
        taken.join(", ")
    )
}

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<()> {
    run_with(args, None)
}

/// What a master that started says on its `ready` channel.
pub(crate) type Ready = Result<Started, String>;

/// A master that serves, as the agent that started it holds it.
pub(crate) struct Started {
    /// The address it serves on.
    pub(crate) server: Ipv4Addr,
    /// Its store, where the agent keeps its own inventory.
    pub(crate) store: Arc<Store>,
    /// Higher recon masters met on the segment, which stand down for this one.
    pub(crate) rivals: runtime::guard::Rivals,
    /// Stands the master down: send where to say what it did (`Finisher::stand_down`, the
    /// address given up); its services end after that.
    pub(crate) stop: smol::channel::Sender<(String, smol::channel::Sender<Result<String, String>>)>,
}

/// As [`run`], and says on `ready` which address it serves on once every service is started.
pub(crate) fn run_with(args: ServeArgs, ready: Option<smol::channel::Sender<Ready>>) -> anyhow::Result<()> {
    let ifindex = nix::net::if_::if_nametoindex(args.interface.as_str())
        .with_context(|| format!("no interface {}", args.interface))?;
    // The address this master put on the interface, given up if it stands down.
    let mut added = None;
    if let Some(wanted) = args.address {
        let mut rtnl = runtime::netlink::Rtnl::open().context("rtnetlink")?;
        rtnl.set_up(ifindex).with_context(|| format!("bringing {} up", args.interface))?;
        let (ip, prefix) = free_address(&args.interface, wanted, &args.spare_addresses)?;
        rtnl.add_address(ifindex, ip, prefix).with_context(|| format!("adding {ip}/{prefix} to {}", args.interface))?;
        added = Some((ip, prefix));
        let iface = args.interface.clone();
        if let Ok(mac) = interface_mac(&iface) {
            // In the background: the neighbours learn the address while the services start.
            std::thread::spawn(move || {
                if let Err(e) = smol::block_on(runtime::arp::announce(&iface, mac, ip)) {
                    log::warn!("arp: announcing {ip} on {iface}: {e}");
                }
            });
        }
    }
    let (server, prefix) = interface_v4(&args.interface)
        .or(args.address)
        .ok_or_else(|| anyhow::anyhow!("{} has no IPv4 address; give one with --address A.B.C.D/P", args.interface))?;
    let mut subnet = Subnet::around(server, prefix)
        .ok_or_else(|| anyhow::anyhow!("{server}/{prefix}: the prefix must be between 8 and 30"))?;
    subnet.router = args.router;
    let mac = interface_mac(&args.interface)?;
    std::fs::create_dir_all(&args.data).with_context(|| format!("creating {}", args.data.display()))?;
    let durable = runtime::medium::durable(&args.data);
    let kept_nothing = durable.as_ref().err().map(|why| not_kept(why));
    let store =
        Store::open(&args.data).with_context(|| format!("opening the data directory {}", args.data.display()))?;
    if let Some(msg) = kept_nothing {
        store.fleet().alert(runtime::clock::unix_ms(), msg);
    }
    store.set_stuck(u64::try_from(args.stuck.as_millis()).unwrap_or(u64::MAX));
    let names: runtime::dhcp::Names = Rc::new(RefCell::new(BTreeMap::new()));
    let ex = Rc::new(smol::LocalExecutor::new());

    smol::block_on(ex.run(async {
        let (mode, found) = match args.dhcp {
            DhcpChoice::Fixed(m) => (m, None),
            DhcpChoice::Auto => runtime::dhcp_client::auto_mode(&args.interface, mac, args.probe).await,
        };
        // `auto` beside another DHCP server: loud, on the console and the board too.
        if let Some(why) = args.not_alone.clone().or(found.map(runtime::dhcp_client::another_server)) {
            let msg = runtime::dhcp_client::not_alone(&args.interface, &why);
            log::warn!("{msg}");
            runtime::console(&msg);
            store.fleet().alert(runtime::clock::unix_ms(), msg);
        }
        let http = format!("http://{server}");
        let cfg = Config {
            mode,
            server,
            subnet,
            relays: args.relays.clone(),
            domain: args.domain.clone(),
            lease_secs: args.lease_secs,
            offer_secs: 30,
            decline_secs: 600,
            boot: Boot {
                bios: "undionly.kpxe".into(),
                efi_x64: "ipxe.efi".into(),
                efi_ia32: args.boot.join("ipxe-i386.efi").exists().then(|| "ipxe-i386.efi".into()),
                efi_arm64: args.boot.join("ipxe-arm64.efi").exists().then(|| "ipxe-arm64.efi".into()),
                script_url: format!("{http}/boot.ipxe"),
                http_base: format!("{http}/"),
            },
        };
        log::info!(
            "master {server}/{prefix} on {} (index {ifindex}), DHCP {mode:?}, data {}{}",
            args.interface,
            args.data.display(),
            if durable.is_ok() { "" } else { " (NOT KEPT)" }
        );
        let dhcp =
            Rc::new(RefCell::new(runtime::dhcp::Dhcp::open(cfg, &args.data, ifindex, store.clone(), names.clone())?));
        dhcp.borrow_mut().set_own_mac(mac);
        let rivals = runtime::guard::Rivals::default();
        dhcp.borrow_mut().rivals = rivals.clone();
        dhcp.borrow_mut().set_reclaim_after(u32::try_from(args.reclaim_after.as_secs()).unwrap_or(u32::MAX));
        if mode == Mode::Full {
            // The interlock: stop at the first sign of another DHCP server or a router, unless
            // the operator asked for full DHCP (then only say so).
            dhcp.borrow_mut().guard(&args.interface, server, args.dhcp == DhcpChoice::Auto);
            ex.spawn(runtime::guard::watch(dhcp.clone(), args.interface.clone(), server, mac, args.reprobe)).detach();
        }
        let d67 = ex.spawn(runtime::dhcp::serve_port(dhcp.clone(), args.interface.clone(), 67));
        let d4011 = ex.spawn(runtime::dhcp::serve_port(dhcp.clone(), args.interface.clone(), 4011));
        let dns_stats = Rc::new(runtime::dns::Stats::default());
        let dns = ex.spawn(runtime::dns::serve(
            server,
            args.names.clone(),
            args.domain.clone(),
            names.clone(),
            dns_stats.clone(),
        ));
        let tftp_cfg = runtime::tftp::TftpConfig {
            root: args.boot.clone(),
            listen: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 69),
            max_transfers: 256,
            max_windowsize: 64,
            sender: netboot_proto::tftp::SenderConfig::default(),
        };
        let tftp_stats = Rc::new(runtime::tftp::Stats::default());
        let tftp = ex.spawn(runtime::tftp::serve(tftp_cfg, ex.clone(), tftp_stats.clone(), Some(store.clone())));
        ex.spawn(publish_counters(store.clone(), dhcp.clone(), tftp_stats, dns_stats)).detach();
        let mut http_cfg = runtime::http::HttpConfig {
            listen: SocketAddrV4::new(server, 80),
            boot_dir: args.boot.clone(),
            peer_poweroff: args.peer_poweroff.clone(),
            extents: args.extents.clone(),
            durable: durable.is_ok(),
            master_mac: Some(mac),
            ..runtime::http::HttpConfig::default()
        };
        http_cfg.boot.append = args.append.clone();
        http_cfg.boot.fast_macs = args.fast_macs.iter().copied().collect();
        http_cfg.boot.fast_all = args.fast_all;
        let finisher = Arc::new(runtime::finish::Finisher::new(
            store.clone(),
            args.data.clone(),
            Some(dhcp.borrow().closer()),
            args.unmount_on_finish,
            args.poweroff_on_finish,
        ));
        let http = ex.spawn(runtime::http::serve(http_cfg, store.clone(), Some(finisher.clone())));
        let (stop_tx, stop_rx) = smol::channel::bounded::<(String, smol::channel::Sender<Result<String, String>>)>(1);
        if args.on_stick {
            let url = if server == Ipv4Addr::UNSPECIFIED { String::new() } else { format!("http://{server}") };
            let _ = std::fs::create_dir_all("/run/recon");
            if let Err(e) =
                runtime::files::write_atomic(std::path::Path::new(crate::board::MASTER_URL_FILE), url.as_bytes())
            {
                log::warn!("master: writing {}: {e}", crate::board::MASTER_URL_FILE);
            }
        }
        if let Some(r) = &ready {
            // The services bind their sockets on their first poll: let them run once.
            smol::future::yield_now().await;
            let _ = r.send(Ok(Started { server, store: store.clone(), rivals, stop: stop_tx })).await;
        }
        // Standing down (the agent met a master with a lower MAC): wind up as a finish does,
        // without powering off, give up the address, then end every service.
        let stood_down = async {
            let Ok((to, answer)) = stop_rx.recv().await else {
                return smol::future::pending::<anyhow::Result<()>>().await;
            };
            let f = finisher.clone();
            let mut r = smol::unblock(move || f.stand_down(&to)).await;
            if args.on_stick {
                let _ = std::fs::remove_file(crate::board::MASTER_URL_FILE);
            }
            if let Some((ip, prefix)) = added {
                let gone = runtime::netlink::Rtnl::open().and_then(|mut n| n.del_address(ifindex, ip, prefix));
                r = match (r, gone) {
                    (Ok(said), Ok(())) => Ok(format!("{said}\n{ip}/{prefix} given up")),
                    (Ok(said), Err(e)) => Ok(format!("{said}\n{ip}/{prefix} could not be given up: {e}")),
                    (Err(e), _) => Err(e),
                };
            }
            let _ = answer.send(r).await;
            Ok(())
        };
        // The first service to fail ends the master, loudly.
        smol::future::or(
            smol::future::or(
                smol::future::or(async { d67.await.context("dhcp port 67") }, async {
                    d4011.await.context("dhcp port 4011")
                }),
                smol::future::or(async { dns.await.context("dns") }, async { tftp.await.context("tftp") }),
            ),
            smol::future::or(async { http.await.context("http") }, stood_down),
        )
        .await
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_and_relays() {
        assert_eq!(parse_cidr("10.0.0.1/16"), Some((Ipv4Addr::new(10, 0, 0, 1), 16)));
        assert_eq!(parse_cidr("10.0.0.1/33"), None);
        let r = parse_relay("192.168.40.0/24:192.168.40.10-192.168.40.99:192.168.40.1").unwrap();
        assert_eq!(r.pool, (Ipv4Addr::new(192, 168, 40, 10), Ipv4Addr::new(192, 168, 40, 99)));
        assert_eq!(r.router, Some(Ipv4Addr::new(192, 168, 40, 1)));
        assert!(parse_relay("192.168.40.0/24").is_none());
    }

    #[test]
    fn a_boot_directory_without_ipxe_says_which_firmware_cannot_boot() {
        let d = tempfile::tempdir().unwrap();
        let w = check_boot_dir(d.path()).unwrap();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("no undionly.kpxe") && w[0].contains("BIOS PXE clients cannot boot"), "{w:?}");
        assert!(w[1].contains("no ipxe.efi") && w[1].contains("UEFI PXE clients cannot boot"), "{w:?}");
        std::fs::write(d.path().join("undionly.kpxe"), b"x").unwrap();
        std::fs::write(d.path().join("ipxe.efi"), b"x").unwrap();
        assert!(check_boot_dir(d.path()).unwrap().is_empty());
        let e = check_boot_dir(&d.path().join("nope")).unwrap_err().to_string();
        assert!(e.ends_with("nope: no such directory"), "{e}");
    }

    #[test]
    fn an_interfaces_address_is_found_past_its_link_entry() {
        // Reads the loopback's address; binds nothing.
        assert_eq!(interface_v4("lo"), Some((Ipv4Addr::LOCALHOST, 8)));
        assert_eq!(interface_v4("no-such-if0"), None);
    }
}
