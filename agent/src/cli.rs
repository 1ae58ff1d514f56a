//! The command line: `recon <command> [options]`, each command with its own `--help`.
//!
//! Every option is checked before anything starts: a value that is not what its flag takes is an
//! error naming the flag and what it takes (`serve: --lease "1h": a whole number of seconds`),
//! never a panic; durations are refused when negative, not finite or absurdly long.

use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use lexopt::prelude::*;
use netboot_proto::Mac;

use crate::{dump, master, runtime, serve};

/// `recon --help`. README.md's command list is this text (a test compares them).
pub const USAGE: &str = "\
usage: recon <command> [options]        recon <command> --help: the command's options

commands:
  agent       the node's part in the story, by its kernel command line: PXE-booted, a peer
              that uploads its inventory; booted from media, elects a master and serves or
              uploads
  serve       be the PXE master on an interface: DHCP, TFTP, DNS and HTTP (boot files,
              uploads), keeping leases and every node's data in a directory
  inventory   this machine's hardware (or a sysfs/procfs tree), as a table or JSON
  tftpd       the TFTP server alone, read-only
  httpd       the HTTP server alone: boot files, boot.ipxe and uploads
  board       the operator's live view of the fleet, from a master's HTTP API
  finish      stop DHCP, write the reports, unmount RECONDATA, power off (on the master)
  report      write the reports (HTML, CSV, NetBox, Ironic) from a data directory
  dump        decode the DHCP traffic in pcap and pcapng captures
  version     print the version

environment:
  RUST_LOG    log filter (default: info)";

const SERVE_USAGE: &str = "\
usage: recon serve --interface IF --boot DIR --data DIR [options]

Be the PXE master on IF: DHCP (ports 67 and 4011), TFTP (69: the iPXE binaries), DNS (53: the
master's names and the leased nodes') and HTTP (80: boot.ipxe, the kernel, initrd and live image,
the upload API). Binding these ports needs root or CAP_NET_BIND_SERVICE.

required:
  --interface IF        the interface to serve on
  --boot DIR            the boot files: undionly.kpxe (BIOS PXE), ipxe.efi (UEFI PXE and HTTP
                        boot), vmlinuz, initrd.img, recon.iso
  --data DIR            leases, node timelines and inventories (created if missing)

options:
  --address A.B.C.D/P   put this address on IF first (default: IF's first IPv4 address)
  --dhcp MODE           auto: listen --probe seconds for another DHCP server, no DHCP at all
                        if one answers (the segment is somebody's network), else full
                        (default); full, proxy (PXE clients only, beside another server) or off
  --probe SECS          how long auto listens (default 4)
  --reprobe SECS        while serving full DHCP, probe for another server this often (default
                        30); at the first sign of one, or of a router, auto stops answering DHCP
  --lease SECS          the lease time handed out (default 3600)
  --reclaim-after SECS  when the pool is full, ARP-probe addresses bound, renewed or declined at
                        least this long ago, a few at a time, oldest first, and give out again
                        those nobody answers for (default 60); never behind a --relay
  --name NAME           a DNS name of the master (repeatable; default: bang and recon)
  --domain D            the domain handed to clients (default: none)
  --router A.B.C.D      the router handed to clients (default: none)
  --relay NET/P:FIRST-LAST[:ROUTER]
                        a subnet behind a DHCP relay and its pool (repeatable)
  --append ARGS         more kernel arguments for every node (default: none)
  --fast-path MAC|all   nodes that run the agent in the initramfs and fetch no live image
                        (repeatable; default: none)
  --peer-poweroff P     what peers do once their inventory is stored: auto (power off when they
                        have a BMC; the default), always or never
  --stuck SECS          a node quiet this long before it is done counts as stuck (default 90)
  --board               show the operator's board here (recon board), the log going to
                        DIR/serve.log; `q` on the board stops serving (default: on when
                        stdin and stdout are a terminal that can draw it)
  --no-board            log lines to stderr, whatever the terminal
  -h, --help            this text";

const AGENT_USAGE: &str = "\
usage: recon agent [options]

The node's part in the story, chosen by its kernel command line (/proc/cmdline). A PXE-booted
peer (BOOTIF=, pxeaddr=) finds its master, uploads its inventory and powers off when it has a
BMC. A node booted from its own media probes the segment, elects a master with the others
(lowest MAC) and serves (see recon serve) or uploads.

options:
  --interface IF        act on IF only (default: BOOTIF's link, else the lowest MAC with
                        carrier); it must exist
  --boot DIR            what to serve if this node becomes the master
                        (default /usr/share/recon/boot)
  --data DIR            where the master keeps what it receives (default /var/lib/recon)
  --cmdline TEXT        these kernel arguments instead of /proc/cmdline
  --root DIR            inventory the sysfs/procfs tree under DIR instead of this machine
                        (labs); such a run never powers off
  --status FILE         append a line per event to FILE, for `recon board` on this machine's
                        console (the image: /run/recon/agent.status; default: none)
  -h, --help            this text

kernel arguments it reads: BOOTIF=01-MAC pxeaddr=A.B.C.D postaction=liveboot
  recon.role=auto|master|peer  recon.dhcp=auto|full|proxy|off  recon.poweroff=auto|always|never
  recon.address=A.B.C.D/P  recon.master=A.B.C.D  recon.token=HEX  recon.path=initramfs|live";

const INVENTORY_USAGE: &str = "\
usage: recon inventory [options]

This machine's hardware: SMBIOS, CPUs, memory, disks, NICs, PCI devices, the BMC.

options:
  --root DIR            read the sysfs/procfs tree under DIR instead of this machine
  --format F            table or json (default: a table on a terminal, JSON otherwise)
  --raw                 leave out PCI names, as peers upload it
  -h, --help            this text";

const TFTPD_USAGE: &str = "\
usage: recon tftpd --root DIR [options]

Serve DIR read-only over TFTP (RFC 1350, with blksize, tsize, timeout and windowsize).
Port 69 needs root or CAP_NET_BIND_SERVICE.

required:
  --root DIR            the files to serve

options:
  --listen ADDR[:PORT]  where to listen (default 0.0.0.0:69)
  --max-transfers N     transfers at once (default 256)
  --max-window N        the largest windowsize granted (default 64)
  --retries N           retransmissions before a silent client's transfer is dropped (default 10)
  -h, --help            this text";

const HTTPD_USAGE: &str = "\
usage: recon httpd --boot DIR --data DIR [options]

The master's HTTP server alone: files from DIR (Range, keep-alive), boot.ipxe, the node API and
uploads into --data. Port 80 needs root or CAP_NET_BIND_SERVICE.

required:
  --boot DIR            the files to serve
  --data DIR            where uploads and timelines go (created if missing)

options:
  --listen ADDR[:PORT]  where to listen (default 0.0.0.0:80)
  --kernel F            the kernel boot.ipxe names (default vmlinuz)
  --initrd F            the initrd (default initrd.img)
  --iso F               the live image (default recon.iso)
  --kernel-args A       the kernel arguments instead of the default livenet ones
  --append A            more kernel arguments (default: none)
  --max-body N          the largest upload, octets (default 8388608)
  --max-connections N   connections at once (default 512)
  --max-per-source N    connections at once from one address (default 64)
  --body-budget N       octets of upload bodies in memory at once, all together (a
                        body arrives into a file under DATA/incoming/ and is read
                        back to be decoded); past it an upload is told 503, try
                        again (default 67108864)
  --workers N           threads (default: four per CPU, at most 64)
  --head-timeout SECS   a request head must arrive within (default 10)
  --idle-timeout SECS   a kept-alive connection may idle for (default 60)
  -h, --help            this text";

const BOARD_USAGE: &str = "\
usage: recon board [URL] [--lines]

The fleet as the master sees it, every second: per node where it is in its boot (DHCP, TFTP,
boot script, kernel and initrd, the image, agent hello, inventory stored, done), the first step
it has not reached, and how long since its last event; counts per state; errors; the log. Keys:
f finish (asks first), q quit, arrows scroll. Where the terminal cannot address the screen (not
a terminal, TERM=dumb), a line per change instead.

arguments:
  URL                   the master, http://A.B.C.D (default: this machine's master, from
                        /run/recon/master.url, which the agent writes when it serves)

options:
  --lines               a line per change, even on a terminal
  -h, --help            this text";

const FINISH_USAGE: &str = "\
usage: recon finish [URL]

Finish on the master, as its board's f does: DHCP stops, the reports are written, every file is
fsynced and closed, RECONDATA is unmounted, the counts are printed with \"safe to remove the
stick\", and a master booted from its stick powers off. Only the master itself may ask.

arguments:
  URL                   the master (default: this machine's, from /run/recon/master.url)

options:
  -h, --help            this text";

const REPORT_USAGE: &str = "\
usage: recon report --data DIR

Write the reports into DIR from the node files stored there: report.html, inventory.csv,
netbox/*.csv (NetBox bulk import), ironic/<mac>.json (the Ironic Python Agent's inspection data).
A master writes them by itself as nodes complete and when it finishes. Then prints the fleet
table (as the board shows it).

required:
  --data DIR            a master's data directory (RECONDATA, mounted)

options:
  -h, --help            this text";

const DUMP_USAGE: &str = "\
usage: recon dump FILE...

Decode the DHCP traffic in pcap or pcapng capture files, one line per message; malformed
messages are shown with where they break.

options:
  -h, --help            this text";

/// Runs `recon` with the process's arguments; the exit code to leave with (2 for a usage or
/// start-up error, with the reason on stderr).
pub fn main() -> ExitCode {
    match run(std::env::args_os().skip(1).collect()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("recon: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
}

fn run(args: Vec<std::ffi::OsString>) -> anyhow::Result<ExitCode> {
    // `-h`/`--help` anywhere after the command wins over whatever else is wrong on the line.
    let wants_help = args.iter().skip(1).any(|a| a == "-h" || a == "--help");
    let mut parser = lexopt::Parser::from_args(args);
    let command = match parser.next()? {
        Some(Value(v)) => v.string()?,
        Some(Short('h') | Long("help")) | None => {
            println!("{USAGE}");
            return Ok(ExitCode::SUCCESS);
        }
        Some(Long("version")) => "version".to_owned(),
        Some(other) => return Err(other.unexpected().into()),
    };
    if wants_help {
        let usage = match command.as_str() {
            "agent" => AGENT_USAGE,
            "serve" => SERVE_USAGE,
            "inventory" => INVENTORY_USAGE,
            "tftpd" => TFTPD_USAGE,
            "httpd" => HTTPD_USAGE,
            "dump" => DUMP_USAGE,
            "board" => BOARD_USAGE,
            "finish" => FINISH_USAGE,
            "report" => REPORT_USAGE,
            _ => USAGE,
        };
        return help(usage);
    }
    match command.as_str() {
        "agent" => agent(parser),
        "serve" => serve(parser),
        "inventory" => inventory(parser),
        "tftpd" => tftpd(parser),
        "httpd" => httpd(parser),
        "dump" => dump(parser),
        "board" => board(parser),
        "finish" => finish(parser),
        "report" => report(parser),
        "version" => {
            println!("recon {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        other => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

//--- Values

/// The next value, as a string, for `flag` of `cmd`.
fn text(p: &mut lexopt::Parser, cmd: &str, flag: &str) -> anyhow::Result<String> {
    let v = p.value().with_context(|| format!("{cmd}: {flag} needs a value"))?;
    v.into_string().map_err(|v| anyhow::anyhow!("{cmd}: {flag} {v:?}: not UTF-8"))
}

/// A number for `flag`; `what` says what it counts (`a whole number of seconds`).
fn number<T: FromStr>(p: &mut lexopt::Parser, cmd: &str, flag: &str, what: &str) -> anyhow::Result<T> {
    let v = text(p, cmd, flag)?;
    v.trim().parse().map_err(|_| anyhow::anyhow!("{cmd}: {flag} {v:?}: {what}"))
}

/// A count that must be at least 1.
fn count(p: &mut lexopt::Parser, cmd: &str, flag: &str) -> anyhow::Result<usize> {
    let n: usize = number(p, cmd, flag, "a whole number, at least 1")?;
    ensure!(n >= 1, "{cmd}: {flag} 0: a whole number, at least 1");
    Ok(n)
}

/// The longest duration any option takes: longer is a typo, not a wish.
const MAX_SECS: f64 = 7.0 * 24.0 * 3600.0;

/// Seconds, possibly fractional, from 0 to a week: negative, NaN and infinite values are refused
/// here (`Duration::from_secs_f64` would panic on them).
pub fn parse_secs(v: &str) -> Result<Duration, String> {
    let s: f64 = v.trim().parse().map_err(|_| "a number of seconds".to_owned())?;
    if !s.is_finite() {
        return Err("a finite number of seconds".into());
    }
    if s < 0.0 {
        return Err("seconds cannot be negative".into());
    }
    if s > MAX_SECS {
        return Err(format!("at most {MAX_SECS} seconds (a week)"));
    }
    Ok(Duration::from_secs_f64(s))
}

fn secs(p: &mut lexopt::Parser, cmd: &str, flag: &str) -> anyhow::Result<Duration> {
    let v = text(p, cmd, flag)?;
    parse_secs(&v).map_err(|why| anyhow::anyhow!("{cmd}: {flag} {v:?}: {why}"))
}

/// `ADDR` or `ADDR:PORT`.
fn listen(p: &mut lexopt::Parser, cmd: &str, flag: &str, port: u16) -> anyhow::Result<SocketAddrV4> {
    let v = text(p, cmd, flag)?;
    if let Ok(a) = v.parse::<SocketAddrV4>() {
        return Ok(a);
    }
    let ip: Ipv4Addr = v.parse().map_err(|_| anyhow::anyhow!("{cmd}: {flag} {v:?}: not ADDR or ADDR:PORT"))?;
    Ok(SocketAddrV4::new(ip, port))
}

/// A required option that was not given.
fn required<T>(v: Option<T>, cmd: &str, flag: &str, usage: &str) -> anyhow::Result<T> {
    v.ok_or_else(|| anyhow::anyhow!("{cmd}: {flag} is required\n\n{usage}"))
}

fn help(usage: &str) -> anyhow::Result<ExitCode> {
    println!("{usage}");
    Ok(ExitCode::SUCCESS)
}

//--- Commands

fn serve(mut p: lexopt::Parser) -> anyhow::Result<ExitCode> {
    use serve::dhcp::Mode;
    const CMD: &str = "serve";
    let (mut interface, mut boot, mut data) = (None, None, None);
    let mut a = master::ServeArgs::new();
    let mut board = None;
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return help(SERVE_USAGE),
            Long("board") => board = Some(true),
            Long("no-board") => board = Some(false),
            Long("interface") => interface = Some(text(&mut p, CMD, "--interface")?),
            Long("boot") => boot = Some(PathBuf::from(text(&mut p, CMD, "--boot")?)),
            Long("data") => data = Some(PathBuf::from(text(&mut p, CMD, "--data")?)),
            Long("address") => {
                let v = text(&mut p, CMD, "--address")?;
                a.address = Some(
                    master::parse_cidr(&v).ok_or_else(|| anyhow::anyhow!("{CMD}: --address {v:?}: not A.B.C.D/P"))?,
                );
            }
            Long("dhcp") => {
                a.dhcp = match text(&mut p, CMD, "--dhcp")?.as_str() {
                    "auto" => master::DhcpChoice::Auto,
                    "full" => master::DhcpChoice::Fixed(Mode::Full),
                    "proxy" => master::DhcpChoice::Fixed(Mode::Proxy),
                    "off" => master::DhcpChoice::Fixed(Mode::Off),
                    other => bail!("{CMD}: --dhcp {other:?}: auto, full, proxy or off"),
                }
            }
            Long("name") => a.names.push(text(&mut p, CMD, "--name")?.to_ascii_lowercase()),
            Long("domain") => a.domain = Some(text(&mut p, CMD, "--domain")?.to_ascii_lowercase()),
            Long("lease") => {
                a.lease_secs = number(&mut p, CMD, "--lease", "a whole number of seconds, at least 60")?;
                ensure!(a.lease_secs >= 60, "{CMD}: --lease {}: a whole number of seconds, at least 60", a.lease_secs);
            }
            Long("probe") => a.probe = secs(&mut p, CMD, "--probe")?,
            Long("reprobe") => a.reprobe = secs(&mut p, CMD, "--reprobe")?.max(Duration::from_secs(1)),
            Long("stuck") => a.stuck = secs(&mut p, CMD, "--stuck")?,
            Long("reclaim-after") => a.reclaim_after = secs(&mut p, CMD, "--reclaim-after")?,
            Long("router") => a.router = Some(number(&mut p, CMD, "--router", "not an IPv4 address A.B.C.D")?),
            Long("append") => a.append = text(&mut p, CMD, "--append")?,
            Long("fast-path") => {
                let v = text(&mut p, CMD, "--fast-path")?;
                if v == "all" {
                    a.fast_all = true;
                } else {
                    a.fast_macs.push(
                        Mac::parse(&v).ok_or_else(|| anyhow::anyhow!("{CMD}: --fast-path {v:?}: a MAC or `all`"))?,
                    );
                }
            }
            Long("peer-poweroff") => {
                let v = text(&mut p, CMD, "--peer-poweroff")?;
                ensure!(
                    matches!(v.as_str(), "always" | "never" | "auto"),
                    "{CMD}: --peer-poweroff {v:?}: auto, always or never"
                );
                a.peer_poweroff = (v != "auto").then_some(v);
            }
            Long("relay") => {
                let v = text(&mut p, CMD, "--relay")?;
                a.relays.push(
                    master::parse_relay(&v)
                        .ok_or_else(|| anyhow::anyhow!("{CMD}: --relay {v:?}: not NET/P:FIRST-LAST[:ROUTER]"))?,
                );
            }
            other => return Err(anyhow::Error::from(other.unexpected()).context(format!("{CMD} (recon serve --help)"))),
        }
    }
    a.interface = required(interface, CMD, "--interface IF", SERVE_USAGE)?;
    a.boot = required(boot, CMD, "--boot DIR", SERVE_USAGE)?;
    a.data = required(data, CMD, "--data DIR", SERVE_USAGE)?;
    if a.names.is_empty() {
        a.names = vec!["bang".into(), "recon".into()];
    }
    let board = board.unwrap_or_else(|| {
        std::io::stdin().is_terminal() && crate::board::form_for_terminal() == crate::board::Form::Full
    });
    if !board {
        init_logging();
    }
    runtime::signals::install();
    master::check_interface(&a.interface)?;
    for w in master::check_boot_dir(&a.boot)? {
        // Before the board takes the screen: a missing firmware is said where the operator looks.
        eprintln!("recon: {w}");
    }
    if !board {
        master::run(a)?;
        return Ok(ExitCode::SUCCESS);
    }
    serve_with_board(a)
}

/// `recon serve` with the board on this terminal: the master on a thread of its own, its log in
/// DIR/serve.log, the board against its HTTP API; quitting the board stops the master as SIGTERM
/// does (every store synced first).
fn serve_with_board(a: master::ServeArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&a.data).with_context(|| format!("serve: --data {}", a.data.display()))?;
    let log_path = a.data.join("serve.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("serve: {}", log_path.display()))?;
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .target(env_logger::Target::Pipe(Box::new(log)))
        .init();
    let (tx, rx) = smol::channel::bounded(1);
    let master = std::thread::Builder::new().name("master".into()).spawn(move || master::run_with(a, Some(tx)))?;
    let server = match smol::block_on(rx.recv()) {
        Ok(Ok(started)) => started.server,
        Ok(Err(e)) => bail!("serve: {e} (log: {})", log_path.display()),
        // The master ended before it served: its own error says why.
        Err(_) => match master.join() {
            Ok(Err(e)) => return Err(e),
            _ => bail!("serve: the master stopped before it served (log: {})", log_path.display()),
        },
    };
    let host = if server.is_unspecified() { Ipv4Addr::LOCALHOST } else { server };
    let shown = crate::board::run(Some(&format!("http://{host}")), crate::board::Form::Full);
    // The signal thread syncs every store and exits, as for Ctrl-C elsewhere.
    nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGTERM)?;
    shown?;
    std::thread::park();
    Ok(ExitCode::SUCCESS)
}

fn agent(mut p: lexopt::Parser) -> anyhow::Result<ExitCode> {
    const CMD: &str = "agent";
    let mut o = runtime::agent::AgentOpts {
        cmdline: None,
        boot: PathBuf::from("/usr/share/recon/boot"),
        data: PathBuf::from("/var/lib/recon"),
        interface: None,
        root: None,
        status: None,
    };
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return help(AGENT_USAGE),
            Long("boot") => o.boot = PathBuf::from(text(&mut p, CMD, "--boot")?),
            Long("data") => o.data = PathBuf::from(text(&mut p, CMD, "--data")?),
            Long("interface") => o.interface = Some(text(&mut p, CMD, "--interface")?),
            Long("cmdline") => o.cmdline = Some(text(&mut p, CMD, "--cmdline")?),
            Long("root") => o.root = Some(PathBuf::from(text(&mut p, CMD, "--root")?)),
            Long("status") => o.status = Some(PathBuf::from(text(&mut p, CMD, "--status")?)),
            other => return Err(anyhow::Error::from(other.unexpected()).context(format!("{CMD} (recon agent --help)"))),
        }
    }
    if let Some(i) = &o.interface {
        // Waiting for a cable on a name that does not exist would wait forever.
        master::check_interface(i)?;
    }
    init_logging();
    runtime::signals::install();
    runtime::agent::run(o)?;
    Ok(ExitCode::SUCCESS)
}

fn tftpd(mut p: lexopt::Parser) -> anyhow::Result<ExitCode> {
    const CMD: &str = "tftpd";
    let mut root = None;
    let mut listen_on = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, netboot_proto::tftp::SERVER_PORT);
    let mut max_transfers = 256;
    let mut max_window = 64u16;
    let mut sender = netboot_proto::tftp::SenderConfig::default();
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return help(TFTPD_USAGE),
            Long("root") => root = Some(PathBuf::from(text(&mut p, CMD, "--root")?)),
            Long("listen") => listen_on = listen(&mut p, CMD, "--listen", netboot_proto::tftp::SERVER_PORT)?,
            Long("max-transfers") => max_transfers = count(&mut p, CMD, "--max-transfers")?,
            Long("max-window") => {
                max_window = number(&mut p, CMD, "--max-window", "a whole number from 1 to 65535")?;
                ensure!(max_window >= 1, "{CMD}: --max-window 0: a whole number from 1 to 65535");
            }
            Long("retries") => {
                sender.max_retries = number(&mut p, CMD, "--retries", "a whole number of retransmissions")?
            }
            other => return Err(anyhow::Error::from(other.unexpected()).context(format!("{CMD} (recon tftpd --help)"))),
        }
    }
    let root = required(root, CMD, "--root DIR", TFTPD_USAGE)?;
    ensure!(root.is_dir(), "{CMD}: --root {}: not a directory", root.display());
    init_logging();
    let cfg = runtime::tftp::TftpConfig { root, listen: listen_on, max_transfers, max_windowsize: max_window, sender };
    let ex = std::rc::Rc::new(smol::LocalExecutor::new());
    let stats = std::rc::Rc::new(runtime::tftp::Stats::default());
    smol::block_on(ex.run(runtime::tftp::serve(cfg, ex.clone(), stats, None)))?;
    Ok(ExitCode::SUCCESS)
}

fn httpd(mut p: lexopt::Parser) -> anyhow::Result<ExitCode> {
    const CMD: &str = "httpd";
    let mut cfg = runtime::http::HttpConfig::default();
    let (mut boot, mut data) = (None, None);
    // Names go into iPXE commands and URLs unquoted.
    let word = |flag: &str, v: String| {
        ensure!(!v.is_empty() && !v.contains(char::is_whitespace), "{CMD}: {flag} {v:?}: a file name without spaces");
        Ok(v)
    };
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return help(HTTPD_USAGE),
            Long("boot") => boot = Some(PathBuf::from(text(&mut p, CMD, "--boot")?)),
            Long("data") => data = Some(PathBuf::from(text(&mut p, CMD, "--data")?)),
            Long("listen") => cfg.listen = listen(&mut p, CMD, "--listen", 80)?,
            Long("kernel") => cfg.boot.kernel = word("--kernel", text(&mut p, CMD, "--kernel")?)?,
            Long("initrd") => cfg.boot.initrd = word("--initrd", text(&mut p, CMD, "--initrd")?)?,
            Long("iso") => cfg.boot.iso = word("--iso", text(&mut p, CMD, "--iso")?)?,
            Long("kernel-args") => cfg.boot.args = text(&mut p, CMD, "--kernel-args")?,
            Long("append") => cfg.boot.append = text(&mut p, CMD, "--append")?,
            Long("max-body") => cfg.max_body = number(&mut p, CMD, "--max-body", "a whole number of octets")?,
            Long("max-connections") => cfg.max_connections = count(&mut p, CMD, "--max-connections")?,
            Long("max-per-source") => cfg.max_per_source = count(&mut p, CMD, "--max-per-source")?,
            Long("body-budget") => cfg.body_budget = number(&mut p, CMD, "--body-budget", "a whole number of octets")?,
            Long("workers") => cfg.workers = count(&mut p, CMD, "--workers")?,
            Long("head-timeout") => cfg.head_timeout = secs(&mut p, CMD, "--head-timeout")?,
            Long("idle-timeout") => cfg.idle_timeout = secs(&mut p, CMD, "--idle-timeout")?,
            other => return Err(anyhow::Error::from(other.unexpected()).context(format!("{CMD} (recon httpd --help)"))),
        }
    }
    cfg.boot_dir = required(boot, CMD, "--boot DIR", HTTPD_USAGE)?;
    let data = required(data, CMD, "--data DIR", HTTPD_USAGE)?;
    ensure!(cfg.boot_dir.is_dir(), "{CMD}: --boot {}: not a directory", cfg.boot_dir.display());
    ensure!(
        cfg.body_budget >= cfg.max_body,
        "{CMD}: --body-budget {} is less than --max-body {}: the largest upload could never be taken",
        cfg.body_budget,
        cfg.max_body
    );
    init_logging();
    runtime::signals::install();
    std::fs::create_dir_all(&data).with_context(|| format!("{CMD}: creating --data {}", data.display()))?;
    let store =
        runtime::store::Store::open(&data).with_context(|| format!("{CMD}: opening --data {}", data.display()))?;
    smol::block_on(runtime::http::serve(cfg, store, None))?;
    Ok(ExitCode::SUCCESS)
}

fn inventory(mut p: lexopt::Parser) -> anyhow::Result<ExitCode> {
    use std::io::{IsTerminal, Write};
    const CMD: &str = "inventory";
    let mut root = None;
    let mut format = None;
    let mut raw = false;
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return help(INVENTORY_USAGE),
            Long("root") => root = Some(PathBuf::from(text(&mut p, CMD, "--root")?)),
            Long("format") => {
                format = Some(match text(&mut p, CMD, "--format")?.as_str() {
                    "json" => true,
                    "table" => false,
                    other => bail!("{CMD}: --format {other:?}: json or table"),
                })
            }
            Long("raw") => raw = true,
            other => {
                return Err(anyhow::Error::from(other.unexpected()).context(format!("{CMD} (recon inventory --help)")));
            }
        }
    }
    if let Some(r) = &root {
        ensure!(r.is_dir(), "{CMD}: --root {}: not a directory", r.display());
    }
    let live = root.is_none();
    let sysroot = root.map_or_else(inventory::SysRoot::host, inventory::SysRoot::new);
    let opts = inventory::Options {
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_unix_ms: runtime::clock::unix_ms(),
        live,
        ..inventory::Options::default()
    };
    let mut inv = if live {
        inventory::collect(&sysroot, &inventory::live::Host, &opts)
    } else {
        inventory::collect(&sysroot, &inventory::NoDevices, &opts)
    };
    if !raw {
        inventory::names::name_pci(&mut inv, &inventory::names::best_db());
    }
    let json = format.unwrap_or_else(|| !std::io::stdout().is_terminal());
    // stdout is line-buffered: pretty JSON would be one write(2) per line.
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &inv)?;
        writeln!(out)?;
    } else {
        out.write_all(inventory::report::table(&inv).as_bytes())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn board(mut p: lexopt::Parser) -> anyhow::Result<ExitCode> {
    let mut url = None;
    let mut form = crate::board::form_for_terminal();
    while let Some(arg) = p.next()? {
        match arg {
            Value(v) => url = Some(v.string()?),
            Long("lines") => form = crate::board::Form::Lines,
            other => return Err(anyhow::Error::from(other.unexpected()).context("board (recon board --help)")),
        }
    }
    crate::board::run(url.as_deref(), form)?;
    Ok(ExitCode::SUCCESS)
}

fn finish(mut p: lexopt::Parser) -> anyhow::Result<ExitCode> {
    let mut url = None;
    while let Some(arg) = p.next()? {
        match arg {
            Value(v) => url = Some(v.string()?),
            other => return Err(anyhow::Error::from(other.unexpected()).context("finish (recon finish --help)")),
        }
    }
    let url = crate::board::master_url(url.as_deref()).ok_or_else(|| {
        anyhow::anyhow!("finish: no master here ({} is missing); give its URL", crate::board::MASTER_URL_FILE)
    })?;
    print!("{}", crate::board::finish(&url)?);
    Ok(ExitCode::SUCCESS)
}

fn report(mut p: lexopt::Parser) -> anyhow::Result<ExitCode> {
    const CMD: &str = "report";
    let mut data = None;
    while let Some(arg) = p.next()? {
        match arg {
            Long("data") => data = Some(PathBuf::from(text(&mut p, CMD, "--data")?)),
            other => return Err(anyhow::Error::from(other.unexpected()).context("report (recon report --help)")),
        }
    }
    let data = required(data, CMD, "--data DIR", REPORT_USAGE)?;
    ensure!(
        data.join("nodes").is_dir(),
        "{CMD}: --data {}: no nodes/ there: not a master's data directory",
        data.display()
    );
    let n = runtime::report::write(&data, crate::serve::fleet::STUCK_MS)
        .with_context(|| format!("{CMD}: writing the reports in {}", data.display()))?;
    let (view, _) = runtime::report::load(&data, crate::serve::fleet::STUCK_MS)
        .with_context(|| format!("{CMD}: reading {}", data.display()))?;
    println!("{}\n\n{n} report files written in {}", crate::report::table::table(&view, 100), data.display());
    Ok(ExitCode::SUCCESS)
}

fn dump(mut p: lexopt::Parser) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    while let Some(arg) = p.next()? {
        match arg {
            Value(v) => files.push(PathBuf::from(v)),
            Short('h') | Long("help") => return help(DUMP_USAGE),
            other => return Err(anyhow::Error::from(other.unexpected()).context("dump (recon dump --help)")),
        }
    }
    ensure!(!files.is_empty(), "dump: no capture files given\n\n{DUMP_USAGE}");
    // Malformed DHCP is what the tool exists to show, not a failure of the tool.
    let _counts = dump::run(&files)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_finite_non_negative_and_at_most_a_week() {
        assert_eq!(parse_secs("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_secs("0"), Ok(Duration::ZERO));
        for (bad, why) in [
            ("-1", "negative"),
            ("NaN", "finite"),
            ("inf", "finite"),
            ("-inf", "finite"),
            ("1e30", "a week"),
            ("ten", "number of seconds"),
            ("", "number of seconds"),
        ] {
            let e = parse_secs(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
