//! Probe: what kind of boot this is. A PXE-booted node (BOOTIF and a master on the command
//! line) is a peer and goes straight to Fetch; a forced role goes where it says; a node booted
//! from its own media first asks the runtime to probe the segment for DHCP servers, then elects.
//! It stands as a candidate from its first moment: its beacons go out while the probe runs, so
//! a node that boots a few seconds later still hears it (see [`super::elect`]).

use netboot_proto::Mac;

use super::beacon::Beacon;
use super::elect::{self, Elect};
use super::fetch::Fetch;
use super::serve::Serve;
use super::{Action, Ctx, Input, Ms, Role};

/// How long the runtime gets to report the DHCP probe before the agent elects without it
/// (the master's own `auto` mode probes again before it hands out addresses).
const PROBE_MS: Ms = 8_000;

#[derive(Debug)]
pub(super) struct Probe {
    /// Set once the DHCP probe was asked for.
    deadline: Option<Ms>,
    next_beacon: Ms,
    /// The lowest candidate heard so far (this node's own MAC to begin with).
    lowest: Mac,
}

pub(super) enum Next {
    Stay(Probe),
    Elect(Elect),
    Serve(Serve),
    Fetch(Fetch),
}

impl Probe {
    pub(super) fn start(ctx: &mut Ctx, now: Ms) -> Probe {
        Probe { deadline: None, next_beacon: now, lowest: ctx.facts.mac }
    }

    pub(super) fn deadline(&self) -> Option<Ms> {
        self.deadline.map(|d| d.min(self.next_beacon))
    }

    pub(super) fn step(self, ctx: &mut Ctx, now: Ms, input: Option<Input>) -> Next {
        let c = &ctx.facts.cmdline;
        match c.role {
            Role::Master => return Next::Serve(Serve::start(ctx, now, None)),
            Role::Peer => {
                let hint = c.master_addr();
                return Next::Fetch(Fetch::start(ctx, now, hint));
            }
            Role::Auto => {}
        }
        if c.pxe_booted() {
            let hint = c.master_addr();
            return Next::Fetch(Fetch::start(ctx, now, hint));
        }
        let Some(deadline) = self.deadline else {
            ctx.action(Action::ProbeDhcp);
            let mut p = Probe { deadline: Some(now + PROBE_MS), ..self };
            p.candidacy(ctx, now);
            return Next::Stay(p);
        };
        match input {
            Some(Input::ProbeResult { foreign_dhcp }) => {
                if let Some(f) = foreign_dhcp {
                    ctx.event("foreign-dhcp", "probe", format!("another DHCP server answers: {f}"), now);
                }
                Next::Elect(Elect::start(ctx, now, foreign_dhcp, self.lowest))
            }
            _ if now >= deadline => {
                ctx.event("probe-timeout", "probe", "no DHCP probe result".into(), now);
                Next::Elect(Elect::start(ctx, now, None, self.lowest))
            }
            Some(Input::Beacon { data, .. }) => {
                let mut p = self;
                if let Some(b) = Beacon::decode(&data)
                    && b.candidate
                {
                    p.lowest = p.lowest.min(b.mac);
                }
                p.candidacy(ctx, now);
                Next::Stay(p)
            }
            _ => {
                let mut p = self;
                p.candidacy(ctx, now);
                Next::Stay(p)
            }
        }
    }

    /// A candidate's beacon when one is due. A master that serves already answers it at once;
    /// Elect then hears that answer again (masters beacon every 2 s) and joins.
    fn candidacy(&mut self, ctx: &mut Ctx, now: Ms) {
        if now >= self.next_beacon {
            ctx.broadcast(elect::candidate(ctx.facts.mac, ctx.facts.boot_unix_ms));
            self.next_beacon = now + elect::EVERY;
        }
    }
}
