//! Serve: this node is the master. The runtime starts the services of `recon serve`; the master
//! then inventories itself into its own store, and beacons where it serves so late nodes find
//! it (from the start: "starting" until its address is known). It stays here, unless it meets a
//! master with a lower MAC.
//!
//! Two masters on one segment (a partition that healed, an election whose beacons were lost,
//! a second stick whose agent started late and heard nothing) resolve to one, the lower MAC, as
//! the election would have: the higher one first checks the other's claim (the runtime asks its
//! manifest at the address its beacon gives, which must name its MAC; when that address is this
//! master's own, as when two masters took the default apart, it asks ARP instead: the other
//! MAC must answer for it, RFC 5227 section 2.1.1), then stands down (DHCP stops, its store closes, its address is given up) and becomes a peer
//! of the other, which gets its inventory like any node's; what it stored stays on its own
//! disk. The lower one tells its interlock that the other's DHCP replies are no foreign server
//! while the other stands down.

use std::net::Ipv4Addr;

use netboot_proto::Mac;

use super::beacon::Beacon;
use super::fetch::Fetch;
use super::{Action, Ctx, DhcpPolicy, Input, Ms};

const EVERY: Ms = 2_000;

#[derive(Debug)]
pub(super) struct Serve {
    addr: Option<Ipv4Addr>,
    /// The services answered (started or failed): only then can they be stopped.
    started: bool,
    next_beacon: Ms,
    own_inventory: bool,
    /// What Probe found, for a Fetch that may elect again.
    foreign_dhcp: Option<Ipv4Addr>,
    /// A lower master met, while its claim is checked or this one stands down.
    yielding: Option<Yielding>,
    /// Higher masters already told to the runtime (`RivalMaster`).
    rivals: Vec<(Mac, Ipv4Addr)>,
}

#[derive(Debug, Clone, Copy)]
enum Yielding {
    Checking { mac: Mac, addr: Ipv4Addr },
    Stopping { mac: Mac, addr: Ipv4Addr },
}

pub(super) enum Next {
    Stay(Serve),
    Fetch(Fetch),
}

impl Serve {
    pub(super) fn start(ctx: &mut Ctx, now: Ms, foreign_dhcp: Option<Ipv4Addr>) -> Serve {
        let mut dhcp = ctx.facts.cmdline.dhcp;
        // With another DHCP server on the segment, or a host with an address (an isolated rack's
        // nodes are off or PXE-booting: none has one), `auto` serves no DHCP at all: the segment
        // is somebody's network (recon.dhcp=proxy or full say otherwise).
        let seen = match (foreign_dhcp, ctx.host_seen) {
            (Some(server), _) => Some(format!("ANOTHER DHCP SERVER ({server}) ANSWERS")),
            (None, Some((ip, mac))) => Some(format!("A HOST WITH AN ADDRESS ({ip}, {mac}) SPEAKS")),
            (None, None) => None,
        };
        let not_alone = seen.filter(|_| dhcp == DhcpPolicy::Auto);
        if not_alone.is_some() {
            dhcp = DhcpPolicy::Off;
        }
        let address = ctx.facts.cmdline.address;
        let poweroff_on_finish = ctx.facts.cmdline.poweroff != super::PowerPolicy::Never;
        ctx.action(Action::StartMaster { dhcp, address, poweroff_on_finish, not_alone });
        let s = Serve {
            addr: None,
            started: false,
            next_beacon: now + EVERY,
            own_inventory: false,
            foreign_dhcp,
            yielding: None,
            rivals: Vec::new(),
        };
        s.beacon(ctx);
        s
    }

    pub(super) fn deadline(&self) -> Ms {
        self.next_beacon
    }

    /// Where this master serves; while its services start (RECONDATA, the address probe, the
    /// DHCP probe: seconds), 0.0.0.0: a late node then waits for it rather than elect itself.
    fn beacon(&self, ctx: &mut Ctx) {
        if matches!(self.yielding, Some(Yielding::Stopping { .. })) {
            // Standing down: no node should follow this one any more.
            return;
        }
        let b = Beacon {
            mac: ctx.facts.mac,
            serving: true,
            candidate: false,
            boot_unix_ms: ctx.facts.boot_unix_ms,
            addr: self.addr.unwrap_or(Ipv4Addr::UNSPECIFIED),
        };
        ctx.broadcast(b.encode());
    }

    pub(super) fn step(mut self, ctx: &mut Ctx, now: Ms, input: Option<Input>) -> Next {
        match input {
            Some(Input::ServeStarted(Ok(addr))) => {
                self.addr = Some(addr);
                self.started = true;
                ctx.event("serving", "serve", format!("master on {addr}"), now);
                self.beacon(ctx);
                if !self.own_inventory {
                    ctx.action(Action::CollectInventory);
                }
            }
            Some(Input::ServeStarted(Err(e))) => {
                self.started = true;
                ctx.event("serve-failed", "serve", e.to_string(), now)
            }
            Some(Input::InventoryDone(Ok(body))) if !self.own_inventory => {
                self.own_inventory = true;
                ctx.action(Action::StoreOwnInventory(body));
            }
            Some(Input::Beacon { data, .. }) => {
                if let Some(b) = Beacon::decode(&data).filter(|b| b.mac != ctx.facts.mac) {
                    self.heard(ctx, now, b);
                }
            }
            Some(Input::MasterChecked(r)) => {
                if let Some(Yielding::Checking { mac, addr }) = self.yielding {
                    match r {
                        Ok(()) => self.stand_down(ctx, now, mac, addr, format!("{mac} serves at {addr}")),
                        Err(e) => {
                            ctx.distrust(mac, now);
                            ctx.event("claim-refused", "serve", format!("{mac} claims {addr}: {e}; serving on"), now);
                            self.yielding = None;
                        }
                    }
                }
            }
            Some(Input::MasterStopped(r)) => {
                if let Some(Yielding::Stopping { mac, addr }) = self.yielding {
                    let detail = match r {
                        Ok(said) => said,
                        Err(e) => format!("stopping the services: {e}"),
                    };
                    ctx.event("stood-down", "serve", detail, now);
                    return Next::Fetch(Fetch::following(ctx, now, mac, Some(addr), self.foreign_dhcp));
                }
            }
            _ => {}
        }
        if now >= self.next_beacon {
            self.beacon(ctx);
            self.next_beacon = now + EVERY;
        }
        Next::Stay(self)
    }

    /// Another node's beacon.
    fn heard(&mut self, ctx: &mut Ctx, now: Ms, b: Beacon) {
        if b.candidate {
            // A candidate that has not heard of us yet: answer at once.
            self.beacon(ctx);
            return;
        }
        if !b.serving || b.addr.is_unspecified() || !ctx.trusts(b.mac, now) {
            // A master still starting: it is met once it says where it serves.
            return;
        }
        if b.mac > ctx.facts.mac {
            // It yields to this one; until it has, its DHCP is not a foreign server's.
            if !self.rivals.contains(&(b.mac, b.addr)) {
                self.rivals.push((b.mac, b.addr));
                ctx.event(
                    "rival",
                    "serve",
                    format!("{} serves at {} too; it yields to this master", b.mac, b.addr),
                    now,
                );
                ctx.action(Action::RivalMaster { addr: b.addr });
                self.beacon(ctx);
            }
            return;
        }
        if self.yielding.is_some() || !self.started {
            return;
        }
        ctx.event("master-met", "serve", format!("{} (a lower MAC) serves at {}; checking", b.mac, b.addr), now);
        ctx.action(Action::CheckMaster { addr: b.addr, mac: b.mac });
        self.yielding = Some(Yielding::Checking { mac: b.mac, addr: b.addr });
    }

    fn stand_down(&mut self, ctx: &mut Ctx, now: Ms, mac: Mac, addr: Ipv4Addr, why: String) {
        ctx.event("yield", "serve", format!("{why}; the lower MAC serves: this master stands down"), now);
        ctx.action(Action::StopMaster { to: mac, addr });
        self.yielding = Some(Yielding::Stopping { mac, addr });
    }
}
