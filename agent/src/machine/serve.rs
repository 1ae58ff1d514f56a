//! Serve: this node is the master. The runtime starts the services of `recon serve`; the master
//! then inventories itself into its own store, and beacons where it serves so late nodes find
//! it (from the start: "starting" until its address is known). It stays here.

use std::net::Ipv4Addr;

use super::beacon::Beacon;
use super::{Action, Ctx, DhcpPolicy, Input, Ms};

const EVERY: Ms = 2_000;

#[derive(Debug)]
pub(super) struct Serve {
    addr: Option<Ipv4Addr>,
    next_beacon: Ms,
    own_inventory: bool,
}

impl Serve {
    pub(super) fn start(ctx: &mut Ctx, now: Ms, foreign_dhcp: Option<Ipv4Addr>) -> Serve {
        let mut dhcp = ctx.facts.cmdline.dhcp;
        // With another DHCP server on the segment, `auto` never hands out addresses.
        if foreign_dhcp.is_some() && dhcp == DhcpPolicy::Auto {
            dhcp = DhcpPolicy::Proxy;
        }
        let address = ctx.facts.cmdline.address;
        let poweroff_on_finish = ctx.facts.cmdline.poweroff != super::PowerPolicy::Never;
        ctx.action(Action::StartMaster { dhcp, address, poweroff_on_finish });
        let s = Serve { addr: None, next_beacon: now + EVERY, own_inventory: false };
        s.beacon(ctx);
        s
    }

    pub(super) fn deadline(&self) -> Ms {
        self.next_beacon
    }

    /// Where this master serves; while its services start (RECONDATA, the address probe, the
    /// DHCP probe: seconds), 0.0.0.0: a late node then waits for it rather than elect itself.
    fn beacon(&self, ctx: &mut Ctx) {
        let b = Beacon {
            mac: ctx.facts.mac,
            serving: true,
            candidate: false,
            boot_unix_ms: ctx.facts.boot_unix_ms,
            addr: self.addr.unwrap_or(Ipv4Addr::UNSPECIFIED),
        };
        ctx.broadcast(b.encode());
    }

    pub(super) fn step(mut self, ctx: &mut Ctx, now: Ms, input: Option<Input>) -> Serve {
        match input {
            Some(Input::ServeStarted(Ok(addr))) => {
                self.addr = Some(addr);
                ctx.event("serving", "serve", format!("master on {addr}"), now);
                self.beacon(ctx);
                if !self.own_inventory {
                    ctx.action(Action::CollectInventory);
                }
            }
            Some(Input::ServeStarted(Err(e))) => ctx.event("serve-failed", "serve", e.to_string(), now),
            Some(Input::InventoryDone(Ok(body))) if !self.own_inventory => {
                self.own_inventory = true;
                ctx.action(Action::StoreOwnInventory(body));
            }
            // A candidate that has not heard of us yet: answer at once.
            Some(Input::Beacon { data, .. }) if super::beacon::Beacon::decode(&data).is_some_and(|b| b.candidate) => {
                self.beacon(ctx)
            }
            _ => {}
        }
        if now >= self.next_beacon {
            self.beacon(ctx);
            self.next_beacon = now + EVERY;
        }
        self
    }
}
