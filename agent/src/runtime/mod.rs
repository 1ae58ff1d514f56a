//! The only async code: sockets, timers, files and threads on smol (the HTTP workers on
//! `local`, a reactor per thread), driving the sans-IO cores of `netboot_proto`,
//! `crate::serve` and `crate::machine` (docs/ARCHITECTURE.md, "The sans-IO line").

pub(crate) mod agent;
pub(crate) mod arp;
pub(crate) mod clock;
pub(crate) mod dhcp;
pub(crate) mod dhcp_client;
pub(crate) mod dns;
pub(crate) mod files;
pub(crate) mod finish;
pub(crate) mod guard;
pub(crate) mod http;
pub(crate) mod http_client;
pub(crate) mod local;
pub(crate) mod medium;
pub(crate) mod netlink;
pub(crate) mod report;
pub(crate) mod signals;
pub(crate) mod store;
pub(crate) mod tftp;
pub(crate) mod udp;

/// Says `msg` where the operator looks: the log, and the system console (the screen and the
/// serial line), framed by blank lines.
pub(crate) fn console(msg: &str) {
    log::error!("{msg}");
    if let Ok(mut c) = std::fs::OpenOptions::new().write(true).open("/dev/console") {
        use std::io::Write;
        let _ = writeln!(c, "\n{msg}\n");
    }
}
