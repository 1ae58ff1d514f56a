//! Poweroff: after the master acknowledged the inventory. With `auto` the node powers off when a
//! BMC is there to power it on again (IPMI), and otherwise stays up saying it is done, since a
//! node without remote power control that switches itself off needs someone to walk over.

use std::net::Ipv4Addr;

use super::{Action, Ctx, Ms, PowerPolicy};

#[derive(Debug)]
pub(super) struct Poweroff {
    policy: PowerPolicy,
    master: Ipv4Addr,
}

impl Poweroff {
    /// The master's manifest may override the peer's `auto`.
    pub(super) fn start(ctx: &mut Ctx, _now: Ms, master: Ipv4Addr, from_master: Option<&str>) -> Poweroff {
        let mut policy = ctx.facts.cmdline.poweroff;
        if policy == PowerPolicy::Auto {
            policy = match from_master {
                Some("always") => PowerPolicy::Always,
                Some("never") => PowerPolicy::Never,
                _ => PowerPolicy::Auto,
            };
        }
        Poweroff { policy, master }
    }

    pub(super) fn finish(self, ctx: &mut Ctx, now: Ms) {
        let off = match self.policy {
            PowerPolicy::Always => true,
            PowerPolicy::Never => false,
            PowerPolicy::Auto => ctx.facts.ipmi,
        };
        if off {
            ctx.event("poweroff", "poweroff", "powering off".into(), now);
            ctx.action(Action::PowerOff);
        } else {
            let msg = format!("recon: inventory acknowledged by {}; done, safe to power off", self.master);
            ctx.event("done", "poweroff", msg.clone(), now);
            ctx.action(Action::Announce(msg));
        }
    }
}
