//! Beacons: how media-booted nodes find each other and elect a master, and how a master that
//! serves tells late arrivals where it is. One UDP broadcast datagram, 24 octets, network order:
//!
//! ```text
//! 0  "RCN1"   magic and format version
//! 4  u8       flags: bit 0 = serving (the sender is the master), bit 1 = candidate
//! 5  u8       reserved, 0
//! 6  [u8; 6]  the sender's MAC (the election key: lowest wins)
//! 12 u64      the sender's boot time, Unix ms (informational)
//! 20 [u8; 4]  the address the sender serves on (serving), or 0.0.0.0
//! ```
//!
//! Anything else on the port is dropped: shorter, longer, another magic.

use std::net::Ipv4Addr;

use netboot_proto::Mac;

const MAGIC: &[u8; 4] = b"RCN1";
/// Octets in a beacon.
pub const LEN: usize = 24;
const SERVING: u8 = 1;
const CANDIDATE: u8 = 2;

/// A decoded beacon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beacon {
    /// The sender's MAC.
    pub mac: Mac,
    /// The sender is the master and serves.
    pub serving: bool,
    /// The sender stands in the election.
    pub candidate: bool,
    /// The sender's boot time, Unix ms.
    pub boot_unix_ms: u64,
    /// Where the sender serves (0.0.0.0 unless serving).
    pub addr: Ipv4Addr,
}

impl Beacon {
    /// The datagram.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(LEN);
        b.extend_from_slice(MAGIC);
        b.push((u8::from(self.serving) * SERVING) | (u8::from(self.candidate) * CANDIDATE));
        b.push(0);
        b.extend_from_slice(&self.mac.0);
        b.extend_from_slice(&self.boot_unix_ms.to_be_bytes());
        b.extend_from_slice(&self.addr.octets());
        b
    }

    /// A datagram's beacon; `None` for anything that is not one.
    pub fn decode(d: &[u8]) -> Option<Beacon> {
        if d.len() != LEN || &d[..4] != MAGIC {
            return None;
        }
        Some(Beacon {
            serving: d[4] & SERVING != 0,
            candidate: d[4] & CANDIDATE != 0,
            mac: Mac(d[6..12].try_into().ok()?),
            boot_unix_ms: u64::from_be_bytes(d[12..20].try_into().ok()?),
            addr: Ipv4Addr::new(d[20], d[21], d[22], d[23]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let b = Beacon {
            mac: Mac([2, 0, 0, 0, 0, 9]),
            serving: true,
            candidate: false,
            boot_unix_ms: 77,
            addr: Ipv4Addr::new(10, 0, 0, 1),
        };
        let e = b.encode();
        assert_eq!(e.len(), LEN);
        assert_eq!(Beacon::decode(&e), Some(b));
        assert_eq!(Beacon::decode(&e[..23]), None);
        let mut bad = e.clone();
        bad[0] = b'X';
        assert_eq!(Beacon::decode(&bad), None);
    }
}
