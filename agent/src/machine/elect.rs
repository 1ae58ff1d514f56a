//! Elect: media-booted nodes announce their candidacy with beacons for a few seconds; the lowest
//! MAC wins, deterministically, since every candidate sees the same set. A node that hears a
//! master already serving joins it at once.

use std::net::Ipv4Addr;

use netboot_proto::Mac;

use super::beacon::Beacon;
use super::fetch::Fetch;
use super::serve::Serve;
use super::{Ctx, Input, Ms};

/// How long candidates listen (beacons every [`EVERY`], so each hears the others several
/// times even with loss).
pub(super) const ELECT_MS: Ms = 3_000;
const EVERY: Ms = 500;

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
    pub(super) fn start(ctx: &mut Ctx, now: Ms, foreign_dhcp: Option<Ipv4Addr>) -> Elect {
        Elect { until: now + ELECT_MS, next_beacon: now, lowest: ctx.facts.mac, foreign_dhcp }
    }

    pub(super) fn deadline(&self) -> Ms {
        self.until.min(self.next_beacon)
    }

    pub(super) fn step(mut self, ctx: &mut Ctx, now: Ms, input: Option<Input>) -> Next {
        if let Some(Input::Beacon { data, .. }) = input
            && let Some(b) = Beacon::decode(&data)
        {
            if b.serving && !b.addr.is_unspecified() {
                ctx.event("master-found", "elect", format!("{} serves", b.addr), now);
                return Next::Fetch(Fetch::start(ctx, now, Some(b.addr)));
            }
            // A master still starting its services: there is one; wait for where it serves.
            if b.serving && b.mac != ctx.facts.mac {
                ctx.event("master-found", "elect", format!("{} is starting to serve", b.mac), now);
                return Next::Fetch(Fetch::start(ctx, now, None));
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
                Next::Fetch(Fetch::start(ctx, now, None))
            };
        }
        if now >= self.next_beacon {
            let b = Beacon {
                mac: ctx.facts.mac,
                serving: false,
                candidate: true,
                boot_unix_ms: ctx.facts.boot_unix_ms,
                addr: Ipv4Addr::UNSPECIFIED,
            };
            ctx.broadcast(b.encode());
            self.next_beacon = now + EVERY;
        }
        Next::Stay(self)
    }
}
