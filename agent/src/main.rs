//! `recon`: one binary for every role in the story (see README.md).
//!
//! Subcommands: `agent` (the node's whole story, by its kernel command line), `serve` (the
//! master's services on one interface), `inventory`, and the parts alone (`tftpd`, `httpd`,
//! `dump`); USAGE below says each one's options.

#![forbid(unsafe_code)]

mod dump;
mod machine;
mod master;
mod runtime;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: recon <command> [args]

commands:
  dump FILE...   decode the DHCP traffic in pcap or pcapng capture files
  tftpd --root DIR [--listen ADDR[:PORT]] [--max-transfers N] [--max-window N] [--retries N]
                 serve DIR read-only over TFTP (default 0.0.0.0:69, 256 transfers, window 64,
                 10 retransmissions before a silent client's transfer is dropped)
  serve --interface IF --boot DIR --data DIR [--address A.B.C.D/P] [--dhcp auto|full|proxy|off]
        [--name NAME]... [--domain D] [--lease SECS] [--probe SECS] [--router A.B.C.D]
        [--relay NET/P:FIRST-LAST[:ROUTER]]... [--append ARGS] [--fast-path MAC|all]...
        [--peer-poweroff auto|always|never]
                 be the PXE master on IF: DHCP (auto: probe first, proxy if another server
                 answers), TFTP, DNS and HTTP (boot.ipxe, the image, uploads); leases and node
                 data under --data
  agent [--boot DIR] [--data DIR] [--interface IF] [--cmdline TEXT] [--root DIR]
                 the node's part in the story, by its kernel command line: a PXE-booted peer
                 finds its master, uploads its inventory and powers off; a node booted from
                 its own media elects a master with the others and serves or uploads;
                 --root inventories a sysfs/procfs tree instead (labs) and never powers off
  httpd --boot DIR --data DIR [--listen ADDR[:PORT]] [--kernel F] [--initrd F] [--iso F] [--kernel-args A]
        [--append A] [--max-body N] [--max-connections N] [--workers N] [--head-timeout S] [--idle-timeout S]
                 the master's HTTP alone (default 0.0.0.0:80): files from DIR, boot.ipxe, uploads into --data
  inventory [--root DIR] [--format json|table] [--raw]
                 this machine's hardware (or a sysfs/procfs tree under DIR): a table on a
                 terminal, JSON otherwise; --raw leaves out PCI names, as peers upload it
  version        print the version

environment:
  RUST_LOG       log filter (default: info)

options:
  -h, --help     this text";

fn main() -> ExitCode {
    match run() {
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

fn tftpd(mut parser: lexopt::Parser) -> anyhow::Result<ExitCode> {
    use lexopt::prelude::*;
    use std::net::{Ipv4Addr, SocketAddrV4};
    let mut root = None;
    let mut listen = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, netboot_proto::tftp::SERVER_PORT);
    let mut max_transfers = 256;
    let mut max_window = 64u16;
    let mut sender = netboot_proto::tftp::SenderConfig::default();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("root") => root = Some(PathBuf::from(parser.value()?)),
            Long("listen") => {
                let v = parser.value()?.string()?;
                listen = match v.parse::<SocketAddrV4>() {
                    Ok(a) => a,
                    Err(_) => SocketAddrV4::new(
                        v.parse().map_err(|_| anyhow::anyhow!("--listen {v:?}: not ADDR or ADDR:PORT"))?,
                        69,
                    ),
                };
            }
            Long("max-transfers") => max_transfers = parser.value()?.parse()?,
            Long("max-window") => max_window = parser.value()?.parse()?,
            Long("retries") => sender.max_retries = parser.value()?.parse()?,
            other => return Err(other.unexpected().into()),
        }
    }
    let root = root.ok_or_else(|| anyhow::anyhow!("tftpd: --root DIR is required\n\n{USAGE}"))?;
    anyhow::ensure!(
        max_window >= 1 && max_transfers >= 1,
        "tftpd: --max-window and --max-transfers must be at least 1"
    );
    init_logging();
    let cfg = runtime::tftp::TftpConfig { root, listen, max_transfers, max_windowsize: max_window, sender };
    let ex = std::rc::Rc::new(smol::LocalExecutor::new());
    let stats = std::rc::Rc::new(runtime::tftp::Stats::default());
    smol::block_on(ex.run(runtime::tftp::serve(cfg, ex.clone(), stats)))?;
    Ok(ExitCode::SUCCESS)
}

fn serve(mut parser: lexopt::Parser) -> anyhow::Result<ExitCode> {
    use lexopt::prelude::*;
    use serve::dhcp::Mode;
    let mut interface = None;
    let mut boot = None;
    let mut data = None;
    let mut a = master::ServeArgs {
        interface: String::new(),
        address: None,
        boot: PathBuf::new(),
        data: PathBuf::new(),
        dhcp: master::DhcpChoice::Auto,
        names: Vec::new(),
        domain: None,
        lease_secs: 3600,
        probe: std::time::Duration::from_secs(4),
        relays: Vec::new(),
        router: None,
        append: String::new(),
        fast_macs: Vec::new(),
        peer_poweroff: None,
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Long("interface") => interface = Some(parser.value()?.string()?),
            Long("boot") => boot = Some(PathBuf::from(parser.value()?)),
            Long("data") => data = Some(PathBuf::from(parser.value()?)),
            Long("address") => {
                let v = parser.value()?.string()?;
                a.address =
                    Some(master::parse_cidr(&v).ok_or_else(|| anyhow::anyhow!("--address {v:?}: not A.B.C.D/P"))?);
            }
            Long("dhcp") => {
                a.dhcp = match parser.value()?.string()?.as_str() {
                    "auto" => master::DhcpChoice::Auto,
                    "full" => master::DhcpChoice::Fixed(Mode::Full),
                    "proxy" => master::DhcpChoice::Fixed(Mode::Proxy),
                    "off" => master::DhcpChoice::Fixed(Mode::Off),
                    other => anyhow::bail!("--dhcp {other:?}: auto, full, proxy or off"),
                }
            }
            Long("name") => a.names.push(parser.value()?.string()?.to_ascii_lowercase()),
            Long("domain") => a.domain = Some(parser.value()?.string()?.to_ascii_lowercase()),
            Long("lease") => a.lease_secs = parser.value()?.parse()?,
            Long("probe") => a.probe = std::time::Duration::from_secs(parser.value()?.parse()?),
            Long("router") => a.router = Some(parser.value()?.parse()?),
            Long("append") => a.append = parser.value()?.string()?,
            Long("fast-path") => {
                let v = parser.value()?.string()?;
                let m = if v == "all" {
                    v
                } else {
                    serve::http::colon_mac(&v).ok_or_else(|| anyhow::anyhow!("--fast-path {v:?}: a MAC or `all`"))?
                };
                a.fast_macs.push(m);
            }
            Long("peer-poweroff") => {
                let v = parser.value()?.string()?;
                anyhow::ensure!(
                    matches!(v.as_str(), "always" | "never" | "auto"),
                    "--peer-poweroff {v:?}: always, never or auto"
                );
                a.peer_poweroff = (v != "auto").then_some(v);
            }
            Long("relay") => {
                let v = parser.value()?.string()?;
                a.relays.push(
                    master::parse_relay(&v)
                        .ok_or_else(|| anyhow::anyhow!("--relay {v:?}: not NET/P:FIRST-LAST[:ROUTER]"))?,
                );
            }
            other => return Err(other.unexpected().into()),
        }
    }
    a.interface = interface.ok_or_else(|| anyhow::anyhow!("serve: --interface IF is required\n\n{USAGE}"))?;
    a.boot = boot.ok_or_else(|| anyhow::anyhow!("serve: --boot DIR is required\n\n{USAGE}"))?;
    a.data = data.ok_or_else(|| anyhow::anyhow!("serve: --data DIR is required\n\n{USAGE}"))?;
    if a.names.is_empty() {
        a.names = vec!["bang".into(), "recon".into()];
    }
    init_logging();
    master::run(a)?;
    Ok(ExitCode::SUCCESS)
}

fn agent(mut parser: lexopt::Parser) -> anyhow::Result<ExitCode> {
    use lexopt::prelude::*;
    let mut o = runtime::agent::AgentOpts {
        cmdline: None,
        boot: PathBuf::from("/usr/share/recon/boot"),
        data: PathBuf::from("/var/lib/recon"),
        interface: None,
        root: None,
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Long("boot") => o.boot = PathBuf::from(parser.value()?),
            Long("data") => o.data = PathBuf::from(parser.value()?),
            Long("interface") => o.interface = Some(parser.value()?.string()?),
            Long("cmdline") => o.cmdline = Some(parser.value()?.string()?),
            Long("root") => o.root = Some(PathBuf::from(parser.value()?)),
            other => return Err(other.unexpected().into()),
        }
    }
    init_logging();
    runtime::agent::run(o)?;
    Ok(ExitCode::SUCCESS)
}

fn httpd(mut parser: lexopt::Parser) -> anyhow::Result<ExitCode> {
    use lexopt::prelude::*;
    use std::net::{Ipv4Addr, SocketAddrV4};
    use std::time::Duration;
    let mut cfg = runtime::http::HttpConfig::default();
    let mut boot = None;
    let mut data = None;
    // Names go into iPXE commands and URLs unquoted.
    let word = |flag: &str, v: String| {
        anyhow::ensure!(!v.is_empty() && !v.contains(char::is_whitespace), "--{flag} {v:?}: a name without spaces");
        Ok(v)
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Long("boot") => boot = Some(PathBuf::from(parser.value()?)),
            Long("data") => data = Some(PathBuf::from(parser.value()?)),
            Long("listen") => {
                let v = parser.value()?.string()?;
                cfg.listen = match v.parse::<SocketAddrV4>() {
                    Ok(a) => a,
                    Err(_) => SocketAddrV4::new(
                        v.parse::<Ipv4Addr>().map_err(|_| anyhow::anyhow!("--listen {v:?}: not ADDR or ADDR:PORT"))?,
                        80,
                    ),
                };
            }
            Long("kernel") => cfg.boot.kernel = word("kernel", parser.value()?.string()?)?,
            Long("initrd") => cfg.boot.initrd = word("initrd", parser.value()?.string()?)?,
            Long("iso") => cfg.boot.iso = word("iso", parser.value()?.string()?)?,
            Long("kernel-args") => cfg.boot.args = parser.value()?.string()?,
            Long("append") => cfg.boot.append = parser.value()?.string()?,
            Long("max-body") => cfg.max_body = parser.value()?.parse()?,
            Long("max-connections") => cfg.max_connections = parser.value()?.parse()?,
            Long("workers") => cfg.workers = parser.value()?.parse()?,
            Long("head-timeout") => cfg.head_timeout = Duration::from_secs_f64(parser.value()?.parse()?),
            Long("idle-timeout") => cfg.idle_timeout = Duration::from_secs_f64(parser.value()?.parse()?),
            other => return Err(other.unexpected().into()),
        }
    }
    cfg.boot_dir = boot.ok_or_else(|| anyhow::anyhow!("httpd: --boot DIR is required\n\n{USAGE}"))?;
    let data = data.ok_or_else(|| anyhow::anyhow!("httpd: --data DIR is required\n\n{USAGE}"))?;
    anyhow::ensure!(
        cfg.workers >= 1 && cfg.max_connections >= 1,
        "httpd: --workers and --max-connections must be at least 1"
    );
    init_logging();
    std::fs::create_dir_all(&data)?;
    let store = std::sync::Arc::new(std::sync::Mutex::new(serve::store::Store::open(&data)?));
    smol::block_on(runtime::http::serve(cfg, store))?;
    Ok(ExitCode::SUCCESS)
}

fn inventory(mut parser: lexopt::Parser) -> anyhow::Result<ExitCode> {
    use lexopt::prelude::*;
    use std::io::{IsTerminal, Write};
    let mut root = None;
    let mut format = None;
    let mut raw = false;
    while let Some(arg) = parser.next()? {
        match arg {
            Long("root") => root = Some(PathBuf::from(parser.value()?)),
            Long("format") => {
                format = Some(match parser.value()?.string()?.as_str() {
                    "json" => true,
                    "table" => false,
                    other => anyhow::bail!("inventory: --format {other:?}: json or table"),
                })
            }
            Long("raw") => raw = true,
            other => return Err(other.unexpected().into()),
        }
    }
    let live = root.is_none();
    let sysroot = root.map_or_else(inventory::SysRoot::host, inventory::SysRoot::new);
    let started_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let opts = inventory::Options {
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_unix_ms,
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

fn run() -> anyhow::Result<ExitCode> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let command = match parser.next()? {
        Some(Value(v)) => v.string()?,
        Some(Short('h') | Long("help")) | None => {
            println!("{USAGE}");
            return Ok(ExitCode::SUCCESS);
        }
        Some(Long("version")) => "version".to_owned(),
        Some(other) => return Err(other.unexpected().into()),
    };
    match command.as_str() {
        "dump" => {
            let mut files = Vec::new();
            while let Some(arg) = parser.next()? {
                match arg {
                    Value(v) => files.push(PathBuf::from(v)),
                    Short('h') | Long("help") => {
                        println!("usage: recon dump FILE...");
                        return Ok(ExitCode::SUCCESS);
                    }
                    other => return Err(other.unexpected().into()),
                }
            }
            anyhow::ensure!(!files.is_empty(), "dump: no capture files given\n\n{USAGE}");
            let counts = dump::run(&files)?;
            // Malformed DHCP is what the tool exists to show, not a failure of the tool.
            let _ = counts;
            Ok(ExitCode::SUCCESS)
        }
        "tftpd" => tftpd(parser),
        "httpd" => httpd(parser),
        "inventory" => inventory(parser),
        "serve" => serve(parser),
        "agent" => agent(parser),
        "version" => {
            println!("recon {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        other => anyhow::bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}
