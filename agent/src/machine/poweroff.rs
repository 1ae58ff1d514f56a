//! Poweroff: after the master acknowledged the inventory. With `auto` the node powers off when a
//! BMC is there to power it on again (IPMI), and otherwise stays up saying it is done, since a
//! node without remote power control that switches itself off needs someone to walk over. A
//! master that keeps nothing (its data directory is not on persistent storage: a stick without
//! its RECONDATA partition) cannot vouch for the inventory past its own power-off: then no peer
//! powers off, whatever the policy, and each says why.

use std::net::Ipv4Addr;

use super::{Action, Ctx, Manifest, Ms, PowerPolicy};

#[derive(Debug)]
pub(super) struct Poweroff {
    policy: PowerPolicy,
    master: Ipv4Addr,
    durable: bool,
}

impl Poweroff {
    /// The master's manifest may override the peer's `auto`.
    pub(super) fn start(ctx: &mut Ctx, _now: Ms, master: Ipv4Addr, manifest: &Manifest) -> Poweroff {
        let mut policy = ctx.facts.cmdline.poweroff;
        if policy == PowerPolicy::Auto {
            policy = match manifest.poweroff.as_deref() {
                Some("always") => PowerPolicy::Always,
                Some("never") => PowerPolicy::Never,
                _ => PowerPolicy::Auto,
            };
        }
        Poweroff { policy, master, durable: manifest.durable }
    }

    pub(super) fn finish(self, ctx: &mut Ctx, now: Ms) {
        let off = match self.policy {
            PowerPolicy::Always => true,
            PowerPolicy::Never => false,
            PowerPolicy::Auto => ctx.facts.ipmi,
        };
        if !self.durable {
            let msg = format!(
                "recon: {} took the inventory but keeps nothing (no RECONDATA on its stick): staying up; \
                 the inventory is lost when the master powers off",
                self.master
            );
            ctx.event("not-durable", "poweroff", msg.clone(), now);
            ctx.action(Action::Announce(msg));
        } else if off {
            ctx.event("poweroff", "poweroff", "powering off".into(), now);
            ctx.action(Action::PowerOff);
        } else {
            let msg = format!("recon: inventory acknowledged by {}; done, safe to power off", self.master);
            ctx.event("done", "poweroff", msg.clone(), now);
            ctx.action(Action::Announce(msg));
        }
    }
}
