//! Elect: media-booted nodes announce their candidacy with beacons (from the start of Probe,
//! then [`ELECT_MS`] more here); the lowest MAC wins, deterministically, since every candidate
//! sees the same set. So nodes that start within about 14 s of each other (Probe's few seconds
//! plus this window; two sticks switched on together differ by a few seconds of firmware and
//! boot) elect the lowest MAC. A node that hears a master already serving, or starting to,
//! joins it at once: a master does not hand over to a node that boots later, so a stick booted
//! later on the same segment becomes a peer whatever its MAC. (Two masters that both serve,
//! after a partition heals or a lost election, resolve to the lower MAC: see [`super::serve`].)
//! Beacons from masters whose claims failed (see [`super::fetch`]) are ignored for a while.

use std::net::Ipv4Addr;

use netboot_proto::Mac;

use super::beacon::Beacon;
use super::fetch::Fetch;
use super::serve::Serve;
use super::{Ctx, Input, Ms};

/// How long candidates listen after Probe (beacons every [`EVERY`], so each hears the others
/// many times even with loss). Long enough to cover two machines' boot jitter; a stick's
/// master spends 200 s booting, so these seconds cost little.
pub(super) const ELECT_MS: Ms = 10_000;
pub(super) const EVERY: Ms = 500;

/// A candidate's beacon.
pub(super) fn candidate(mac: Mac, boot_unix_ms: u64) -> Vec<u8> {
    Beacon { mac, serving: false, candidate: true, boot_unix_ms, addr: Ipv4Addr::UNSPECIFIED }.encode()
}

#[derive(Debug)]
pub(super) struct Elect {
    until: Ms,
    next_beacon: Ms,
    lowest: Mac,
    foreign_dhcp: Option<Ipv4Addr>,
}

pub(super) enum Next {
    Stay(Elect),
    Serve(Serve),
    Fetch(Fetch),
}

impl Elect {
    /// `lowest`: the lowest candidate Probe heard (this node's MAC if none).
    pub(super) fn start(ctx: &mut Ctx, now: Ms, foreign_dhcp: Option<Ipv4Addr>, lowest: Mac) -> Elect {
        Elect { until: now + ELECT_MS, next_beacon: now, lowest: lowest.min(ctx.facts.mac), foreign_dhcp }
    }

    pub(super) fn deadline(&self) -> Ms {
        self.until.min(self.next_beacon)
    }

    pub(super) fn step(mut self, ctx: &mut Ctx, now: Ms, input: Option<Input>) -> Next {
        if let Some(Input::Beacon { data, .. }) = input
            && let Some(b) = Beacon::decode(&data).filter(|b| b.mac != ctx.facts.mac && ctx.trusts(b.mac, now))
        {
            if b.serving && !b.addr.is_unspecified() {
                ctx.event("master-found", "elect", format!("{} serves at {}", b.mac, b.addr), now);
                return Next::Fetch(Fetch::following(ctx, now, b.mac, Some(b.addr), self.foreign_dhcp));
            }
            // A master still starting its services: there is one; wait for where it serves.
            if b.serving {
                ctx.event("master-found", "elect", format!("{} is starting to serve", b.mac), now);
                return Next::Fetch(Fetch::following(ctx, now, b.mac, None, self.foreign_dhcp));
            }
            if b.candidate && b.mac < self.lowest {
                self.lowest = b.mac;
            }
        }
        if now >= self.until {
            return if self.lowest == ctx.facts.mac {
                ctx.event("elected", "elect", "lowest MAC: this node serves".into(), now);
                Next::Serve(Serve::start(ctx, now, self.foreign_dhcp))
            } else {
                ctx.event("elected", "elect", format!("{} serves", self.lowest), now);
                Next::Fetch(Fetch::following(ctx, now, self.lowest, None, self.foreign_dhcp))
            };
        }
        if now >= self.next_beacon {
            ctx.broadcast(candidate(ctx.facts.mac, ctx.facts.boot_unix_ms));
            self.next_beacon = now + EVERY;
        }
        Next::Stay(self)
    }
}
