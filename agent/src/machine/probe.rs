//! Probe: what kind of boot this is. A PXE-booted node (BOOTIF and a master on the command
//! line) is a peer and goes straight to Fetch; a forced role goes where it says; a node booted
//! from its own media first asks the runtime to probe the segment for DHCP servers, then elects.

use super::elect::Elect;
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
}

pub(super) enum Next {
    Stay(Probe),
    Elect(Elect),
    Serve(Serve),
    Fetch(Fetch),
}

impl Probe {
    pub(super) fn start(_ctx: &mut Ctx, _now: Ms) -> Probe {
        Probe { deadline: None }
    }

    pub(super) fn deadline(&self) -> Option<Ms> {
        self.deadline
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
            return Next::Stay(Probe { deadline: Some(now + PROBE_MS) });
        };
        match input {
            Some(Input::ProbeResult { foreign_dhcp }) => {
                if let Some(f) = foreign_dhcp {
                    ctx.event("foreign-dhcp", "probe", format!("another DHCP server answers: {f}"), now);
                }
                Next::Elect(Elect::start(ctx, now, foreign_dhcp))
            }
            _ if now >= deadline => {
                ctx.event("probe-timeout", "probe", "no DHCP probe result".into(), now);
                Next::Elect(Elect::start(ctx, now, None))
            }
            _ => Next::Stay(self),
        }
    }
}
