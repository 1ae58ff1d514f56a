//! The DNS responder's socket: UDP on the master's own address, port 53, answering from the
//! master's names and the DHCP leases (see `crate::serve::dns`).

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};

use super::dhcp::Names;
use super::udp::{UdpOptions, bind_udp};
use crate::serve::dns;

/// Serves DNS on `addr:53` for `own` names (the master's) and the leased names, which are also
/// answered with the `.domain` suffix.
pub(crate) async fn serve(addr: Ipv4Addr, own: Vec<String>, domain: Option<String>, names: Names) -> io::Result<()> {
    let sock = bind_udp(SocketAddrV4::new(addr, 53), &UdpOptions::default())?;
    log::info!("dns: answering for {own:?} and leased nodes on {addr}:53");
    let mut buf = [0u8; 1500];
    let mut out = [0u8; 1500];
    let mut dropped = 0u64;
    loop {
        let (n, from) = sock.recv_from(&mut buf).await?;
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
                let _ = sock.send_to(&out[..len], from).await;
            }
            Err(_) => {
                dropped += 1;
                log::debug!("dns: dropped a datagram from {from} ({dropped} so far)");
            }
        }
    }
}
