//! The DNS responder's socket: UDP on the master's own address, port 53, answering from the
//! master's names and the DHCP leases (see `crate::serve::dns`).

use std::cell::Cell;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};

use super::dhcp::Names;
use super::udp::{UdpOptions, bind_udp};
use crate::serve::dns;

/// Counters (`GET /api/v1/stats`).
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) queries: Cell<u64>,
    /// Answered (an address, or REFUSED, NXDOMAIN, FORMERR, NOTIMP).
    pub(crate) answered: Cell<u64>,
    /// Not answered: too short for a header, or a response.
    pub(crate) dropped: Cell<u64>,
}

impl Stats {
    pub(crate) fn counters(&self) -> [(&'static str, u64); 3] {
        [("queries", self.queries.get()), ("answered", self.answered.get()), ("dropped", self.dropped.get())]
    }
}

/// Serves DNS on `addr:53` for `own` names (the master's) and the leased names, which are also
/// answered with the `.domain` suffix.
pub(crate) async fn serve(
    addr: Ipv4Addr,
    own: Vec<String>,
    domain: Option<String>,
    names: Names,
    stats: std::rc::Rc<Stats>,
) -> io::Result<()> {
    let sock = bind_udp(SocketAddrV4::new(addr, 53), &UdpOptions::default())?;
    log::info!("dns: answering for {own:?} and leased nodes on {addr}:53");
    let mut buf = [0u8; 1500];
    let mut out = [0u8; 1500];
    loop {
        let (n, from) = sock.recv_from(&mut buf).await?;
        stats.queries.set(stats.queries.get() + 1);
        let lookup = |name: &str| {
            let short = match &domain {
                Some(d) => name.strip_suffix(d.as_str()).and_then(|s| s.strip_suffix('.')).unwrap_or(name),
                None => name,
            };
            if own.iter().any(|o| o == short) {
                return Some(addr);
            }
            names.borrow().get(short).copied()
        };
        match dns::answer(&buf[..n], lookup, &mut out) {
            Ok(len) => {
                stats.answered.set(stats.answered.get() + 1);
                let _ = sock.send_to(&out[..len], from).await;
            }
            Err(_) => {
                stats.dropped.set(stats.dropped.get() + 1);
                log::debug!("dns: dropped a datagram from {from} ({} so far)", stats.dropped.get());
            }
        }
    }
}
