//! The lease table and its journal.
//!
//! Every change that a client may rely on (a binding, a release, a decline) becomes a
//! [`Record`]; the runtime appends records to `leases.jsonl` and fsyncs before it sends the ACK
//! that announces them, so a restart replays the journal into the same table and no client ever
//! holds an address the master forgot. Offers are not journaled: a client that loses its offer
//! in a restart asks again.
//!
//! Addresses stay tied to their last client after release or expiry, and a returning client gets
//! its old address back while no one else has taken it (RFC 2131, section 4.3.1: "the client's
//! current address ... or the client's previous address").

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use netboot_proto::Mac;
use serde::{Deserialize, Serialize};

/// A client's identity: option 61 when sent, else the hardware type and address (RFC 2131,
/// section 4.2), as hex.
pub type ClientKey = String;

/// What an address is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Offered, held for the client until the time given.
    Offered {
        /// Unix seconds.
        until: u64,
    },
    /// Bound until `expires`.
    Bound,
    /// Given back (RELEASE) or expired: free, but remembered for its last client.
    Free,
    /// A client found it in use (DECLINE): not handed out before `expires`.
    Declined,
}

/// One address's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The client.
    pub key: ClientKey,
    /// Its hardware address, for an Ethernet client.
    pub mac: Option<[u8; 6]>,
    /// What the address is doing.
    pub state: State,
    /// Unix seconds: end of the binding or of the decline quarantine.
    pub expires: u64,
    /// The client's name (option 12, or made up), for DNS.
    pub hostname: Option<String>,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Record {
    /// `ip` bound to `key` until `expires`.
    #[allow(missing_docs)]
    Bind { key: ClientKey, mac: Option<String>, ip: Ipv4Addr, expires: u64, host: Option<String> },
    /// `ip` given back by `key`.
    #[allow(missing_docs)]
    Release { key: ClientKey, ip: Ipv4Addr },
    /// `ip` declined; quarantined until `expires`.
    #[allow(missing_docs)]
    Decline { key: ClientKey, ip: Ipv4Addr, expires: u64 },
}

/// The table.
#[derive(Debug, Default)]
pub struct Leases {
    by_ip: BTreeMap<Ipv4Addr, Lease>,
    by_key: HashMap<ClientKey, Ipv4Addr>,
}

impl Leases {
    /// Applies a journal record (replay, and the core's own changes).
    pub fn apply(&mut self, r: &Record) {
        match r {
            Record::Bind { key, mac, ip, expires, host } => {
                self.forget_other_address(key, *ip);
                self.by_ip.insert(
                    *ip,
                    Lease {
                        key: key.clone(),
                        mac: mac.as_deref().and_then(Mac::parse).map(Mac::octets),
                        state: State::Bound,
                        expires: *expires,
                        hostname: host.clone(),
                    },
                );
                self.by_key.insert(key.clone(), *ip);
            }
            Record::Release { key, ip } => {
                if let Some(l) = self.by_ip.get_mut(ip).filter(|l| &l.key == key) {
                    l.state = State::Free;
                }
            }
            Record::Decline { key, ip, expires } => {
                self.by_key.remove(key);
                self.by_ip.insert(
                    *ip,
                    Lease { key: String::new(), mac: None, state: State::Declined, expires: *expires, hostname: None },
                );
            }
        }
    }

    /// A client moving to `ip` lets go of any other address it held.
    fn forget_other_address(&mut self, key: &str, ip: Ipv4Addr) {
        if let Some(old) = self.by_key.get(key).copied().filter(|&o| o != ip)
            && let Some(l) = self.by_ip.get_mut(&old).filter(|l| l.key == key)
        {
            l.state = State::Free;
        }
    }

    /// The entry for an address.
    pub fn get(&self, ip: Ipv4Addr) -> Option<&Lease> {
        self.by_ip.get(&ip)
    }

    /// The address last tied to a client.
    pub fn address_of(&self, key: &str) -> Option<Ipv4Addr> {
        self.by_key.get(key).copied()
    }

    /// Whether `key` may have `ip` now: nobody else holds it (bound, offered or quarantined and
    /// not yet run out).
    pub fn available(&self, ip: Ipv4Addr, key: &str, now: u64) -> bool {
        match self.by_ip.get(&ip) {
            None => true,
            Some(l) if l.key == key && l.state != State::Declined => true,
            Some(l) => match l.state {
                State::Bound | State::Declined => l.expires <= now,
                State::Offered { until } => until <= now,
                State::Free => true,
            },
        }
    }

    /// How strongly an available address is tied to someone else: 0 never used, 1 free but
    /// remembered. New clients get never-used addresses first, so returning ones find theirs.
    fn claim(&self, ip: Ipv4Addr) -> u8 {
        u8::from(self.by_ip.contains_key(&ip))
    }

    /// Holds `ip` for `key` until `until` (an offer; not journaled).
    pub fn offer(&mut self, ip: Ipv4Addr, key: &str, mac: Option<[u8; 6]>, until: u64) {
        self.forget_other_address(key, ip);
        let hostname = self.by_ip.get(&ip).filter(|l| l.key == key).and_then(|l| l.hostname.clone());
        self.by_ip
            .insert(ip, Lease { key: key.to_owned(), mac, state: State::Offered { until }, expires: until, hostname });
        self.by_key.insert(key.to_owned(), ip);
    }

    /// Drops an offer the client turned down (it chose another server).
    pub fn withdraw_offer(&mut self, key: &str) {
        if let Some(ip) = self.by_key.get(key).copied()
            && let Some(l) =
                self.by_ip.get_mut(&ip).filter(|l| l.key == key && matches!(l.state, State::Offered { .. }))
        {
            l.state = State::Free;
        }
    }

    /// Picks an address in `pool` for `key`: its current or last one, else the one it asks
    /// for, else the first never-used address after a point hashed from the key (so clients
    /// spread over the pool and a client's first address is stable), else any available one.
    pub fn choose(
        &self,
        key: &str,
        requested: Option<Ipv4Addr>,
        pool: (Ipv4Addr, Ipv4Addr),
        exclude: &[Ipv4Addr],
        now: u64,
    ) -> Option<Ipv4Addr> {
        let (lo, hi) = (u32::from(pool.0), u32::from(pool.1));
        let usable = |ip: Ipv4Addr| {
            let n = u32::from(ip);
            n >= lo && n <= hi && !exclude.contains(&ip) && self.available(ip, key, now)
        };
        if let Some(ip) = self.address_of(key).filter(|&ip| usable(ip)) {
            return Some(ip);
        }
        if let Some(ip) = requested.filter(|&ip| usable(ip) && self.claim(ip) == 0) {
            return Some(ip);
        }
        let size = hi.checked_sub(lo)?.checked_add(1)?;
        let start = fnv1a(key.as_bytes()) % size;
        let mut fallback = None;
        for i in 0..size {
            let ip = Ipv4Addr::from(lo + (start + i) % size);
            if usable(ip) {
                if self.claim(ip) == 0 {
                    return Some(ip);
                }
                fallback = fallback.or(Some(ip));
            }
        }
        fallback
    }

    /// Live entries as records: what a compacted journal holds.
    pub fn snapshot(&self) -> Vec<Record> {
        let mut out = Vec::new();
        for (ip, l) in &self.by_ip {
            match l.state {
                // Free entries are kept as a bind that has run out, so the address stays tied to
                // its last client across compaction.
                State::Bound | State::Free => out.push(Record::Bind {
                    key: l.key.clone(),
                    mac: l.mac.map(|m| Mac(m).to_string()),
                    ip: *ip,
                    expires: if l.state == State::Free { 0 } else { l.expires },
                    host: l.hostname.clone(),
                }),
                State::Declined => out.push(Record::Decline { key: l.key.clone(), ip: *ip, expires: l.expires }),
                State::Offered { .. } => {}
            }
        }
        out
    }

    /// Bound leases (for DNS names and the report).
    pub fn bound(&self, now: u64) -> impl Iterator<Item = (Ipv4Addr, &Lease)> + '_ {
        self.by_ip.iter().filter(move |(_, l)| l.state == State::Bound && l.expires > now).map(|(ip, l)| (*ip, l))
    }

    /// Entries in the table.
    pub fn len(&self) -> usize {
        self.by_ip.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.by_ip.is_empty()
    }
}

/// FNV-1a, 32 bits: a stable spread of client keys over the pool (not a security property).
fn fnv1a(b: &[u8]) -> u32 {
    b.iter().fold(0x811c_9dc5u32, |h, &x| (h ^ u32::from(x)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POOL: (Ipv4Addr, Ipv4Addr) = (Ipv4Addr::new(10, 0, 0, 10), Ipv4Addr::new(10, 0, 0, 13));

    fn bind(key: &str, ip: Ipv4Addr, expires: u64) -> Record {
        Record::Bind { key: key.into(), mac: Some("52:54:00:00:00:01".into()), ip, expires, host: None }
    }

    #[test]
    fn clients_keep_their_address_and_new_ones_avoid_remembered_ones() {
        let mut l = Leases::default();
        let a = l.choose("a", None, POOL, &[], 100).unwrap();
        l.apply(&bind("a", a, 200));
        assert_eq!(l.choose("a", None, POOL, &[], 150), Some(a));
        assert!(!l.available(a, "b", 150));
        l.apply(&Record::Release { key: "a".into(), ip: a });
        // b gets a never-used address, not a's.
        let b = l.choose("b", Some(a), POOL, &[], 150).unwrap();
        assert_ne!(a, b);
        assert_eq!(l.choose("a", None, POOL, &[], 150), Some(a));
    }

    #[test]
    fn a_full_pool_reuses_free_addresses_and_then_has_none() {
        let mut l = Leases::default();
        for (i, k) in ["a", "b", "c", "d"].iter().enumerate() {
            let ip = l.choose(k, None, POOL, &[], 0).unwrap();
            l.apply(&bind(k, ip, 100 + i as u64));
        }
        assert_eq!(l.choose("e", None, POOL, &[], 50), None);
        // After the first binding runs out, e takes it.
        let e = l.choose("e", None, POOL, &[], 100).unwrap();
        assert_eq!(l.get(e).unwrap().key, "a");
    }

    #[test]
    fn declines_quarantine_and_offers_expire() {
        let mut l = Leases::default();
        let ip = Ipv4Addr::new(10, 0, 0, 11);
        l.apply(&Record::Decline { key: "a".into(), ip, expires: 500 });
        assert!(!l.available(ip, "a", 499));
        assert!(l.available(ip, "a", 500));
        l.offer(Ipv4Addr::new(10, 0, 0, 12), "b", None, 30);
        assert!(!l.available(Ipv4Addr::new(10, 0, 0, 12), "c", 29));
        assert!(l.available(Ipv4Addr::new(10, 0, 0, 12), "c", 30));
        l.withdraw_offer("b");
        assert!(l.available(Ipv4Addr::new(10, 0, 0, 12), "c", 0));
    }

    #[test]
    fn the_snapshot_replays_into_the_same_table() {
        let mut l = Leases::default();
        l.apply(&bind("a", Ipv4Addr::new(10, 0, 0, 10), 100));
        l.apply(&bind("b", Ipv4Addr::new(10, 0, 0, 11), 100));
        l.apply(&Record::Release { key: "b".into(), ip: Ipv4Addr::new(10, 0, 0, 11) });
        l.apply(&Record::Decline { key: "c".into(), ip: Ipv4Addr::new(10, 0, 0, 12), expires: 70 });
        l.offer(Ipv4Addr::new(10, 0, 0, 13), "d", None, 10);
        let mut r = Leases::default();
        for rec in l.snapshot() {
            let line = serde_json::to_string(&rec).unwrap();
            r.apply(&serde_json::from_str(&line).unwrap());
        }
        assert_eq!(r.address_of("a"), Some(Ipv4Addr::new(10, 0, 0, 10)));
        assert_eq!(r.address_of("b"), Some(Ipv4Addr::new(10, 0, 0, 11)));
        assert!(r.available(Ipv4Addr::new(10, 0, 0, 11), "x", 0));
        assert!(!r.available(Ipv4Addr::new(10, 0, 0, 12), "x", 69));
        assert!(r.available(Ipv4Addr::new(10, 0, 0, 13), "x", 0), "offers are not journaled");
        assert_eq!(r.bound(50).count(), 1);
    }
}
