//! The lease table and its journal.
//!
//! Every change that a client may rely on (a binding, a release, a decline, a reclaim) becomes a
//! [`Record`]; the runtime appends records to `leases.jsonl` and fsyncs before it sends the ACK
//! that announces them, so a restart replays the journal into the same table and no client ever
//! holds an address the master forgot. Offers are not journaled: a client that loses its offer
//! in a restart asks again.
//!
//! Addresses stay tied to their last client after release or expiry, and a returning client gets
//! its old address back while no one else has taken it (RFC 2131, section 4.3.1: "the client's
//! current address ... or the client's previous address").
//!
//! The cost of a request and the size of the table do not grow with the number of clients that
//! ever asked (a flood of DISCOVERs with random client identifiers, each a new client, is the
//! case to survive: the DHCP, DNS and TFTP listeners share one thread):
//!
//! - offers live apart from the durable entries, at most one per client, and at most
//!   [`MAX_OFFERS`] at once, the one closest to running out evicted first; an offer that runs
//!   out (no REQUEST within the offer time) leaves no trace, so a client that never completed
//!   is forgotten. RFC 2131 section 3.1 allows this: "servers need not reserve the offered
//!   network address". Kea (`offer-lifetime`) and dnsmasq hold no state for offers at all;
//! - durable entries (bound, free but remembered, declined) are at most one per address, and a
//!   client is remembered only by the address it last held, so the durable table is bounded by
//!   the addresses ever bound or declined; bound leases and quarantines are never evicted;
//! - the choice of section 4.3.1 uses ordered indexes, O(log n) per request instead of a scan of
//!   the pool (as Kea's free lease queue allocator): runs of taken addresses for the first
//!   never-used address after a point, a set of free remembered addresses for the fallback, and
//!   the running leases, declines and offers by the time they end, so expiry is a walk over
//!   what actually ran out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;

use netboot_proto::Mac;
use serde::{Deserialize, Serialize};

/// A client's identity: option 61 when sent, else the hardware type and address (RFC 2131,
/// section 4.2), as hex.
pub type ClientKey = String;

/// The most offers held at once. A rack that powers on at once has a few thousand PXE clients;
/// this leaves room for four times that, at about 300 octets an offer (5 MB). Under a flood of
/// `r` new clients a second, a real client's offer still holds for `MAX_OFFERS / r` seconds
/// (4 s at 4 000/s), longer than a PXE ROM takes to REQUEST it.
pub const MAX_OFFERS: usize = 16_384;

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
    /// `ip`, bound or quarantined, made free: nobody answered an ARP probe for it (RFC 5227
    /// section 2.1.1), so its holder is gone. A bound address stays tied to its last client.
    #[allow(missing_docs)]
    Reclaim { ip: Ipv4Addr },
}

/// An outstanding offer.
#[derive(Debug, Clone)]
struct Offer {
    lease: Lease,
    until: u64,
    /// Order of making, so offers that end in the same second are evicted oldest first.
    seq: u64,
}

/// The table.
#[derive(Debug)]
pub struct Leases {
    /// Durable entries (bound, free, declined), one per address.
    by_ip: BTreeMap<Ipv4Addr, Lease>,
    /// A client's durable address, only while that entry is still the client's: so this map is
    /// never larger than `by_ip`.
    by_key: HashMap<ClientKey, Ipv4Addr>,
    /// Bound and declined entries by the time they run out.
    running: BTreeSet<(u64, Ipv4Addr)>,
    /// Free durable entries not under an offer: the fallback of section 4.3.1, by address.
    reusable: BTreeSet<Ipv4Addr>,
    /// Outstanding offers by address.
    offers: HashMap<Ipv4Addr, Offer>,
    /// A client's outstanding offer.
    offer_of: HashMap<ClientKey, Ipv4Addr>,
    /// Offers by (until, seq): the first is the next to run out and the first evicted.
    offer_queue: BTreeSet<(u64, u64, Ipv4Addr)>,
    /// Addresses with a durable entry or an offer, as maximal runs (first -> last): the first
    /// never-used address at or after a point is one lookup.
    taken: BTreeMap<u32, u32>,
    seq: u64,
    cap: usize,
    evicted: u64,
}

impl Default for Leases {
    fn default() -> Leases {
        Leases::with_offer_cap(MAX_OFFERS)
    }
}

impl Leases {
    /// An empty table holding at most `cap` offers (at least one).
    pub fn with_offer_cap(cap: usize) -> Leases {
        Leases {
            by_ip: BTreeMap::new(),
            by_key: HashMap::new(),
            running: BTreeSet::new(),
            reusable: BTreeSet::new(),
            offers: HashMap::new(),
            offer_of: HashMap::new(),
            offer_queue: BTreeSet::new(),
            taken: BTreeMap::new(),
            seq: 0,
            cap: cap.max(1),
            evicted: 0,
        }
    }

    /// Applies a journal record (replay, and the core's own changes).
    pub fn apply(&mut self, r: &Record) {
        match r {
            Record::Bind { key, mac, ip, expires, host } => {
                self.forget_other_address(key, *ip);
                // The client is done with offers, and no one else's offer of `ip` still holds.
                self.drop_offer_of(key);
                self.drop_offer_at(*ip);
                self.put(
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
                if self.by_ip.get(ip).is_some_and(|l| &l.key == key) {
                    self.set_free(*ip);
                }
            }
            Record::Decline { key, ip, expires } => {
                if self.by_key.get(key) == Some(ip) {
                    self.by_key.remove(key);
                }
                self.drop_offer_at(*ip);
                self.put(
                    *ip,
                    Lease { key: String::new(), mac: None, state: State::Declined, expires: *expires, hostname: None },
                );
            }
            Record::Reclaim { ip } => {
                if self.by_ip.get(ip).is_some_and(|l| matches!(l.state, State::Bound | State::Declined)) {
                    self.set_free(*ip);
                }
            }
        }
    }

    /// Addresses in `pool` whose holders may be gone, for an ARP probe when the pool is full:
    /// bound leases whose binding ends by `bound_by` and quarantines that end by `declined_by`
    /// (the caller's way of saying "bound, renewed or declined at least the minimum age ago"),
    /// oldest first, at most `max`, leaving out those `skip` names. Walks the running entries in
    /// the order they end, stopping past both limits: O(entries up to the limits).
    pub fn reclaimable(
        &self,
        pool: (Ipv4Addr, Ipv4Addr),
        bound_by: u64,
        declined_by: u64,
        max: usize,
        skip: impl Fn(Ipv4Addr) -> bool,
    ) -> Vec<Ipv4Addr> {
        let (mut bound, mut declined) = (0, 0);
        let mut found = Vec::new();
        for &(expires, ip) in &self.running {
            if expires > bound_by.max(declined_by) || (bound >= max && declined >= max) {
                break;
            }
            if ip < pool.0 || ip > pool.1 || skip(ip) {
                continue;
            }
            let Some(l) = self.by_ip.get(&ip) else { continue };
            let (limit, count) = match l.state {
                State::Bound => (bound_by, &mut bound),
                State::Declined => (declined_by, &mut declined),
                State::Free | State::Offered { .. } => continue,
            };
            if expires <= limit && *count < max {
                *count += 1;
                // How far before its limit an entry ends is how long past the minimum age it
                // was made, whatever its kind: the order of age across both kinds.
                found.push((i128::from(expires) - i128::from(limit), ip));
            }
        }
        found.sort_unstable();
        found.into_iter().take(max).map(|(_, ip)| ip).collect()
    }

    /// A client moving to `ip` lets go of any other address it held.
    fn forget_other_address(&mut self, key: &str, ip: Ipv4Addr) {
        if let Some(old) = self.by_key.get(key).copied().filter(|&o| o != ip)
            && self.by_ip.get(&old).is_some_and(|l| l.key == key)
        {
            self.set_free(old);
        }
    }

    /// Runs out what ended by `now`: offers are dropped (the address and the client are
    /// forgotten), bindings and quarantines become free. Amortised O(log n) per entry that ends.
    pub fn expire(&mut self, now: u64) {
        while let Some(&(until, _, ip)) = self.offer_queue.first()
            && until <= now
        {
            self.drop_offer_at(ip);
        }
        while let Some(&(expires, ip)) = self.running.first()
            && expires <= now
        {
            self.set_free(ip);
        }
    }

    /// Turns a durable entry free, keeping its client (RFC 2131 section 4.3.1's "previous
    /// address"); an expired quarantine keeps its empty key.
    fn set_free(&mut self, ip: Ipv4Addr) {
        if let Some(l) = self.by_ip.get_mut(&ip)
            && l.state != State::Free
        {
            self.running.remove(&(l.expires, ip));
            l.state = State::Free;
            if !self.offers.contains_key(&ip) {
                self.reusable.insert(ip);
            }
        }
    }

    /// Stores a durable entry in place of the one at `ip`, keeping every index in step.
    fn put(&mut self, ip: Ipv4Addr, lease: Lease) {
        self.remove_durable(ip);
        match lease.state {
            State::Bound | State::Declined => {
                self.running.insert((lease.expires, ip));
            }
            State::Free if !self.offers.contains_key(&ip) => {
                self.reusable.insert(ip);
            }
            State::Free | State::Offered { .. } => {}
        }
        self.by_ip.insert(ip, lease);
        self.mark_taken(ip);
    }

    /// Removes the durable entry at `ip`; its client no longer points at it.
    fn remove_durable(&mut self, ip: Ipv4Addr) {
        if let Some(old) = self.by_ip.remove(&ip) {
            self.running.remove(&(old.expires, ip));
            self.reusable.remove(&ip);
            if self.by_key.get(&old.key) == Some(&ip) {
                self.by_key.remove(&old.key);
            }
            self.sync_taken(ip);
        }
    }

    /// The entry for an address: its durable entry (bound, free, declined) if it has one, else
    /// its offer. RELEASE and DECLINE (sections 4.3.3, 4.3.4) act on what was bound, even when
    /// the client has since been offered the same address again.
    pub fn get(&self, ip: Ipv4Addr) -> Option<&Lease> {
        self.by_ip.get(&ip).or_else(|| self.offers.get(&ip).map(|o| &o.lease))
    }

    /// The address last tied to a client: its offer, else its durable entry.
    pub fn address_of(&self, key: &str) -> Option<Ipv4Addr> {
        self.offer_of.get(key).or_else(|| self.by_key.get(key)).copied()
    }

    /// Whether `key` may have `ip` now: nobody else holds it (bound, offered or quarantined and
    /// not yet run out).
    pub fn available(&self, ip: Ipv4Addr, key: &str, now: u64) -> bool {
        if self.offers.get(&ip).is_some_and(|o| o.lease.key != key && o.until > now) {
            return false;
        }
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

    /// Holds `ip` for `key` until `until` (an offer; not journaled). A client has one offer at
    /// a time; at the cap, the offer closest to running out is evicted (section 3.1: offered
    /// addresses need not be reserved).
    pub fn offer(&mut self, ip: Ipv4Addr, key: &str, mac: Option<[u8; 6]>, until: u64) {
        self.drop_offer_of(key);
        self.drop_offer_at(ip);
        while self.offers.len() >= self.cap
            && let Some(&(_, _, oldest)) = self.offer_queue.first()
        {
            self.drop_offer_at(oldest);
            self.evicted += 1;
        }
        let hostname = self.by_ip.get(&ip).filter(|l| l.key == key).and_then(|l| l.hostname.clone());
        self.seq += 1;
        let lease = Lease { key: key.to_owned(), mac, state: State::Offered { until }, expires: until, hostname };
        self.offers.insert(ip, Offer { lease, until, seq: self.seq });
        self.offer_of.insert(key.to_owned(), ip);
        self.offer_queue.insert((until, self.seq, ip));
        self.reusable.remove(&ip);
        self.mark_taken(ip);
    }

    /// Drops an offer the client turned down (it chose another server).
    pub fn withdraw_offer(&mut self, key: &str) {
        self.drop_offer_of(key);
    }

    fn drop_offer_of(&mut self, key: &str) {
        if let Some(ip) = self.offer_of.get(key).copied() {
            self.drop_offer_at(ip);
        }
    }

    /// Forgets the offer of `ip`: the address goes back to what it was before.
    fn drop_offer_at(&mut self, ip: Ipv4Addr) {
        if let Some(o) = self.offers.remove(&ip) {
            self.offer_queue.remove(&(o.until, o.seq, ip));
            if self.offer_of.get(&o.lease.key) == Some(&ip) {
                self.offer_of.remove(&o.lease.key);
            }
            if self.by_ip.get(&ip).is_some_and(|l| l.state == State::Free) {
                self.reusable.insert(ip);
            }
            self.sync_taken(ip);
        }
    }

    /// Picks an address in `pool` for `key` (RFC 2131 section 4.3.1): its current or last one,
    /// else the one it asks for if no one ever had it, else the first never-used address after a
    /// point hashed from the key (so clients spread over the pool and a client's first address is
    /// stable), else the first free remembered one after that point. O(log n + exclude.len()).
    /// Last, when everything in the pool is bound, declined or offered, the offer closest to
    /// running out gives way (counted in [`Leases::evicted`]): offers reserve nothing (RFC 2131
    /// section 3.1), so a flood of DISCOVERs from made-up clients cannot starve the real ones of
    /// addresses; a client whose offer went answers its REQUEST with a NAK and starts again.
    pub fn choose(
        &mut self,
        key: &str,
        requested: Option<Ipv4Addr>,
        pool: (Ipv4Addr, Ipv4Addr),
        exclude: &[Ipv4Addr],
        now: u64,
    ) -> Option<Ipv4Addr> {
        self.expire(now);
        let (lo, hi) = (u32::from(pool.0), u32::from(pool.1));
        let usable = |ip: Ipv4Addr| {
            let n = u32::from(ip);
            n >= lo && n <= hi && !exclude.contains(&ip) && self.available(ip, key, now)
        };
        let current = [self.offer_of.get(key), self.by_key.get(key)];
        if let Some(ip) = current.into_iter().flatten().copied().find(|&ip| usable(ip)) {
            return Some(ip);
        }
        if let Some(ip) = requested.filter(|&ip| usable(ip) && self.claim(ip) == 0) {
            return Some(ip);
        }
        let size = hi.checked_sub(lo)?.checked_add(1)?;
        let start = lo + fnv1a(key.as_bytes()) % size;
        // After expire(), everything left in `taken` is held or remembered and everything in
        // `reusable` is free, so each search below only steps over excluded addresses.
        let before_start = start.checked_sub(1).filter(|&b| b >= lo);
        let found = self
            .never_used(start, hi, exclude)
            .or_else(|| before_start.and_then(|b| self.never_used(lo, b, exclude)))
            .or_else(|| self.first_reusable(start, hi, exclude))
            .or_else(|| before_start.and_then(|b| self.first_reusable(lo, b, exclude)));
        if found.is_some() {
            return found;
        }
        // The pool is full. Walks the offers oldest first: one in this pool unless every offer
        // is of another pool (relays), at most the offer cap.
        let oldest = self
            .offer_queue
            .iter()
            .map(|&(_, _, ip)| ip)
            .find(|&ip| (lo..=hi).contains(&u32::from(ip)) && !exclude.contains(&ip))?;
        self.drop_offer_at(oldest);
        self.evicted += 1;
        self.available(oldest, key, now).then_some(oldest)
    }

    /// The first address in `from..=to` that no entry or offer holds and that is not excluded.
    fn never_used(&self, mut from: u32, to: u32, exclude: &[Ipv4Addr]) -> Option<Ipv4Addr> {
        loop {
            let n = match self.taken.range(..=from).next_back() {
                Some((_, &last)) if last >= from => last.checked_add(1)?,
                _ => from,
            };
            if n > to {
                return None;
            }
            let ip = Ipv4Addr::from(n);
            if !exclude.contains(&ip) {
                return Some(ip);
            }
            from = n.checked_add(1)?;
        }
    }

    fn first_reusable(&self, from: u32, to: u32, exclude: &[Ipv4Addr]) -> Option<Ipv4Addr> {
        self.reusable.range(Ipv4Addr::from(from)..=Ipv4Addr::from(to)).find(|ip| !exclude.contains(ip)).copied()
    }

    fn mark_taken(&mut self, ip: Ipv4Addr) {
        let n = u32::from(ip);
        let before = self.taken.range(..=n).next_back().map(|(&f, &l)| (f, l));
        if before.is_some_and(|(_, l)| l >= n) {
            return;
        }
        let first = match before {
            Some((f, l)) if l.checked_add(1) == Some(n) => f,
            _ => n,
        };
        let last = match n.checked_add(1).and_then(|m| self.taken.remove(&m)) {
            Some(l) => l,
            None => n,
        };
        self.taken.insert(first, last);
    }

    fn unmark_taken(&mut self, ip: Ipv4Addr) {
        let n = u32::from(ip);
        let Some((first, last)) = self.taken.range(..=n).next_back().map(|(&f, &l)| (f, l)) else { return };
        if last < n {
            return;
        }
        self.taken.remove(&first);
        if first < n {
            self.taken.insert(first, n - 1);
        }
        if n < last {
            self.taken.insert(n + 1, last);
        }
    }

    fn sync_taken(&mut self, ip: Ipv4Addr) {
        if self.by_ip.contains_key(&ip) || self.offers.contains_key(&ip) {
            self.mark_taken(ip);
        } else {
            self.unmark_taken(ip);
        }
    }

    /// Live entries as records: what a compacted journal holds.
    pub fn snapshot(&self) -> Vec<Record> {
        let mut out = Vec::new();
        for (ip, l) in &self.by_ip {
            match l.state {
                // A quarantine that ran out stays one (with no time left), so its empty key never
                // becomes a client.
                State::Free if l.key.is_empty() => {
                    out.push(Record::Decline { key: String::new(), ip: *ip, expires: 0 })
                }
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

    /// Durable entries in the table (bound, free but remembered, declined): what the journal
    /// holds. Offers are counted by [`Leases::offers`].
    pub fn len(&self) -> usize {
        self.by_ip.len()
    }

    /// No durable entries.
    pub fn is_empty(&self) -> bool {
        self.by_ip.is_empty()
    }

    /// Outstanding offers (at most the cap).
    pub fn offers(&self) -> usize {
        self.offers.len()
    }

    /// Clients the table knows: those with an offer and those remembered by an address. At most
    /// the offer cap plus the durable entries. O(n): for tests and reports, not per request.
    pub fn clients(&self) -> usize {
        self.offer_of.len() + self.by_key.keys().filter(|k| !self.offer_of.contains_key(*k)).count()
    }

    /// Offers evicted at the cap before they ran out.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Checks that every index agrees with the entries (for tests and the fuzzer; O(n)).
    pub fn check(&self) -> Result<(), String> {
        for (k, ip) in &self.by_key {
            if self.by_ip.get(ip).is_none_or(|l| &l.key != k) {
                return Err(format!("by_key {k} -> {ip}, which is not its entry"));
            }
        }
        for (k, ip) in &self.offer_of {
            if self.offers.get(ip).is_none_or(|o| &o.lease.key != k) {
                return Err(format!("offer_of {k} -> {ip}, which is not its offer"));
            }
        }
        if self.offer_of.len() != self.offers.len() || self.offer_queue.len() != self.offers.len() {
            return Err("offer indexes out of step".into());
        }
        if self.offers.len() > self.cap {
            return Err(format!("{} offers, cap {}", self.offers.len(), self.cap));
        }
        for (ip, o) in &self.offers {
            if !self.offer_queue.contains(&(o.until, o.seq, *ip)) {
                return Err(format!("offer of {ip} not queued"));
            }
        }
        let running: BTreeSet<(u64, Ipv4Addr)> = self
            .by_ip
            .iter()
            .filter(|(_, l)| matches!(l.state, State::Bound | State::Declined))
            .map(|(ip, l)| (l.expires, *ip))
            .collect();
        if running != self.running {
            return Err("running index out of step".into());
        }
        let reusable: BTreeSet<Ipv4Addr> = self
            .by_ip
            .iter()
            .filter(|(ip, l)| l.state == State::Free && !self.offers.contains_key(ip))
            .map(|(ip, _)| *ip)
            .collect();
        if reusable != self.reusable {
            return Err("reusable index out of step".into());
        }
        let mut all: Vec<u32> = self.by_ip.keys().chain(self.offers.keys()).map(|&ip| u32::from(ip)).collect();
        all.sort_unstable();
        all.dedup();
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for n in all {
            match runs.last_mut() {
                Some((_, last)) if last.checked_add(1) == Some(n) => *last = n,
                _ => runs.push((n, n)),
            }
        }
        if runs != self.taken.iter().map(|(&f, &l)| (f, l)).collect::<Vec<_>>() {
            return Err("taken runs out of step".into());
        }
        Ok(())
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
    fn a_pool_full_of_offers_gives_the_oldest_offer_to_a_new_client() {
        let mut l = Leases::default();
        // Two bound, two offered to clients that never come back (a flood's made-up ones).
        for (k, until) in [("a", 0), ("b", 0), ("f1", 60), ("f2", 50)] {
            let ip = l.choose(k, None, POOL, &[], 0).unwrap();
            if until == 0 {
                l.apply(&bind(k, ip, 1000));
            } else {
                l.offer(ip, k, None, until);
            }
        }
        let (f1, f2) = (l.offer_of["f1"], l.offer_of["f2"]);
        let real = l.choose("real", None, POOL, &[], 10).expect("an address while offers hold the rest");
        assert_eq!(real, f2, "the offer closest to running out gives way");
        assert_eq!((l.offers(), l.evicted()), (1, 1));
        assert_eq!(l.address_of("f2"), None);
        l.offer(real, "real", None, 70);
        // Bound addresses never give way.
        assert_eq!(l.choose("x", None, POOL, &[f1, real], 10), None);
        assert_eq!(l.bound(10).count(), 2);
        l.check().unwrap();
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

    #[test]
    fn a_client_is_remembered_only_by_the_address_it_still_has() {
        let mut l = Leases::default();
        let ip = Ipv4Addr::new(10, 0, 0, 10);
        l.apply(&bind("a", ip, 100));
        l.apply(&Record::Release { key: "a".into(), ip });
        l.apply(&bind("b", ip, 200));
        // a's address went to b: a is forgotten, not kept as a pointer to someone else's lease.
        assert_eq!(l.address_of("a"), None);
        assert_eq!(l.clients(), 1);
        l.check().unwrap();
    }

    #[test]
    fn an_offer_that_runs_out_leaves_no_trace_and_the_cap_evicts_the_oldest() {
        let mut l = Leases::with_offer_cap(2);
        let ip = |d| Ipv4Addr::new(10, 0, 0, d);
        l.apply(&bind("a", ip(10), 1000));
        l.apply(&Record::Release { key: "a".into(), ip: ip(10) });
        // b is offered a's old address; when the offer runs out the address is a's again.
        l.offer(ip(10), "b", None, 30);
        l.offer(ip(11), "c", None, 40);
        assert_eq!(l.offers(), 2);
        l.expire(30);
        assert_eq!(l.offers(), 1);
        assert_eq!(l.address_of("b"), None);
        assert_eq!(l.get(ip(10)).map(|e| e.key.as_str()), Some("a"));
        // One offer per client: a second one replaces the first.
        l.offer(ip(12), "c", None, 50);
        assert_eq!(l.offers(), 1);
        assert!(l.available(ip(11), "x", 31));
        // At the cap the offer closest to running out goes first.
        l.offer(ip(13), "d", None, 45);
        l.offer(ip(11), "e", None, 60);
        assert_eq!((l.offers(), l.evicted()), (2, 1));
        assert_eq!(l.address_of("d"), None);
        assert_eq!(l.address_of("c"), Some(ip(12)));
        l.check().unwrap();
        // Binding an offered address ends the offer.
        l.apply(&bind("c", ip(12), 500));
        assert_eq!(l.offers(), 1);
        l.expire(499);
        assert_eq!(l.bound(499).count(), 1);
        l.check().unwrap();
    }

    #[test]
    fn reclaim_candidates_are_past_the_minimum_age_oldest_first_quarantines_included() {
        let mut l = Leases::default();
        let ip = |d| Ipv4Addr::new(10, 0, 0, d);
        let pool = (ip(10), ip(20));
        // Leases of 3600 s bound at 100, 130, 160, 190; quarantines of 600 s declined at 120
        // and 175; an address outside the pool (a relay's) bound at 50.
        for (d, at) in [(10, 160), (11, 100), (12, 190), (13, 130)] {
            l.apply(&bind(&format!("k{d}"), ip(d), at + 3600));
        }
        for (d, at) in [(14, 120), (15, 175)] {
            l.apply(&Record::Decline { key: format!("k{d}"), ip: ip(d), expires: at + 600 });
        }
        l.apply(&bind("relayed", Ipv4Addr::new(192, 168, 40, 2), 50 + 3600));
        // Now 240, a minimum age of 60: made at 180 or before.
        let (now, age) = (240, 60);
        let (bound_by, declined_by) = (now + 3600 - age, now + 600 - age);
        let all = l.reclaimable(pool, bound_by, declined_by, 8, |_| false);
        assert_eq!(all, [ip(11), ip(14), ip(13), ip(10), ip(15)], "oldest first; 12 is too young");
        assert_eq!(l.reclaimable(pool, bound_by, declined_by, 2, |_| false), [ip(11), ip(14)]);
        assert_eq!(l.reclaimable(pool, bound_by, declined_by, 2, |a| a == ip(14)), [ip(11), ip(13)]);
        // A renewal makes a lease young again.
        l.apply(&bind("k11", ip(11), 230 + 3600));
        assert_eq!(l.reclaimable(pool, bound_by, declined_by, 1, |_| false), [ip(14)]);
        // Nothing is old enough a minute earlier.
        assert!(l.reclaimable(pool, 100 + 3600 - age, 100 + 600 - age, 8, |_| false).is_empty());
    }

    #[test]
    fn a_reclaim_frees_the_address_and_survives_a_replay() {
        let ip = |d| Ipv4Addr::new(10, 0, 0, d);
        let journal = [
            bind("a", ip(10), 5000),
            bind("b", ip(11), 5000),
            Record::Decline { key: "c".into(), ip: ip(12), expires: 900 },
            bind("d", ip(13), 5000),
            Record::Reclaim { ip: ip(10) },
            Record::Reclaim { ip: ip(12) },
        ];
        let replay = |records: &[Record]| {
            let mut l = Leases::default();
            for r in records {
                let line = serde_json::to_string(r).unwrap();
                l.apply(&serde_json::from_str(&line).unwrap());
            }
            l.check().unwrap();
            l
        };
        let l = replay(&journal);
        assert_eq!(serde_json::to_string(&journal[4]).unwrap(), r#"{"t":"reclaim","ip":"10.0.0.10"}"#);
        for (d, free) in [(10, true), (11, false), (12, true), (13, false)] {
            assert_eq!(l.available(ip(d), "x", 100), free, "10.0.0.{d}");
        }
        // The reclaimed lease stays a's previous address (RFC 2131 section 4.3.1).
        assert_eq!(l.address_of("a"), Some(ip(10)));
        assert_eq!(l.bound(100).count(), 2);
        // A full pool of four has two addresses again; compaction keeps them free.
        let mut c = replay(&l.snapshot());
        assert!(c.available(ip(10), "x", 100) && c.available(ip(12), "x", 100));
        assert!(!c.available(ip(11), "x", 100));
        assert!(c.choose("new", None, POOL, &[], 100).is_some_and(|a| a == ip(10) || a == ip(12)));
        // A reclaim of an address that is already free changes nothing.
        let mut again = replay(&journal);
        again.apply(&Record::Reclaim { ip: ip(10) });
        again.apply(&Record::Reclaim { ip: ip(20) });
        assert_eq!(again.snapshot(), l.snapshot());
    }

    /// The address choice as it was, a scan of the whole pool: the indexes must pick the same.
    fn scan(l: &Leases, key: &str, requested: Option<Ipv4Addr>, exclude: &[Ipv4Addr], now: u64) -> Option<Ipv4Addr> {
        let (lo, hi) = (u32::from(WIDE.0), u32::from(WIDE.1));
        let usable = |ip: Ipv4Addr| {
            let n = u32::from(ip);
            n >= lo && n <= hi && !exclude.contains(&ip) && l.available(ip, key, now)
        };
        let claim = |ip: Ipv4Addr| l.by_ip.contains_key(&ip) || l.offers.contains_key(&ip);
        let mine = [l.offer_of.get(key), l.by_key.get(key)];
        if let Some(ip) = mine.into_iter().flatten().copied().find(|&ip| usable(ip)) {
            return Some(ip);
        }
        if let Some(ip) = requested.filter(|&ip| usable(ip) && !claim(ip)) {
            return Some(ip);
        }
        let size = hi - lo + 1;
        let start = fnv1a(key.as_bytes()) % size;
        let mut fallback = None;
        for i in 0..size {
            let ip = Ipv4Addr::from(lo + (start + i) % size);
            if usable(ip) {
                if !claim(ip) {
                    return Some(ip);
                }
                fallback = fallback.or(Some(ip));
            }
        }
        fallback
    }

    const WIDE: (Ipv4Addr, Ipv4Addr) = (Ipv4Addr::new(10, 0, 0, 10), Ipv4Addr::new(10, 0, 0, 41));

    #[test]
    fn the_indexes_choose_what_a_scan_of_the_pool_chooses() {
        // splitmix64: a fixed sequence of operations over a small pool, 12 clients, a cap of 6.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move |n: u64| {
            seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) % n
        };
        let exclude = [Ipv4Addr::new(10, 0, 0, 20)];
        let mut l = Leases::with_offer_cap(6);
        let mut now = 1000;
        for _ in 0..20_000 {
            now += rnd(4);
            let key = format!("k{}", rnd(12));
            let ip = Ipv4Addr::from(u32::from(WIDE.0) + rnd(36) as u32 - 2);
            match rnd(7) {
                0..=2 => {
                    let requested = (rnd(2) == 0).then_some(ip);
                    l.expire(now);
                    let want = scan(&l, &key, requested, &exclude, now);
                    let got = l.choose(&key, requested, WIDE, &exclude, now);
                    assert_eq!(got, want, "{key} asking for {requested:?} at {now}");
                    if let Some(ip) = got {
                        l.offer(ip, &key, None, now + 1 + rnd(20));
                    }
                }
                3 => {
                    if l.available(ip, &key, now) {
                        l.apply(&Record::Bind { key, mac: None, ip, expires: now + rnd(60), host: None });
                    }
                }
                4 => l.apply(&Record::Release { key, ip }),
                5 => l.apply(&Record::Decline { key, ip, expires: now + rnd(30) }),
                _ => l.withdraw_offer(&key),
            }
            l.check().unwrap();
            assert!(l.clients() <= 6 + l.len());
        }
    }
}
