//! Fetch: find the master and get its manifest. The hint comes from the command line
//! (`pxeaddr=`, `recon.master=`) or a serving beacon; without one the runtime asks DHCP (the
//! server identifier of the lease is the master). Retries with capped exponential backoff until
//! it works: a peer waits for its master.

use std::net::Ipv4Addr;

use super::beacon::Beacon;
use super::inventory::Inventory;
use super::{Action, Ctx, Input, Ms, backoff};

#[derive(Debug)]
pub(super) struct Fetch {
    hint: Option<Ipv4Addr>,
    attempt: u32,
    retry_at: Option<Ms>,
}

pub(super) enum Next {
    Stay(Fetch),
    Inventory(Inventory),
}

impl Fetch {
    pub(super) fn start(ctx: &mut Ctx, _now: Ms, hint: Option<Ipv4Addr>) -> Fetch {
        ctx.action(Action::FetchManifest { hint });
        Fetch { hint, attempt: 0, retry_at: None }
    }

    pub(super) fn deadline(&self) -> Option<Ms> {
        self.retry_at
    }

    pub(super) fn step(mut self, ctx: &mut Ctx, now: Ms, input: Option<Input>) -> Next {
        match input {
            Some(Input::Manifest(Ok((master, manifest)))) if self.retry_at.is_none() => {
                ctx.event("manifest", "fetch", format!("master {master}"), now);
                return Next::Inventory(Inventory::start(ctx, now, master, manifest));
            }
            Some(Input::Manifest(Err(e))) if self.retry_at.is_none() => {
                let wait = backoff(ctx, self.attempt);
                self.attempt += 1;
                self.retry_at = Some(now + wait);
                ctx.event("fetch-retry", "fetch", format!("{e}; again in {wait} ms"), now);
            }
            Some(Input::Beacon { data, .. }) => {
                if let Some(b) = Beacon::decode(&data).filter(|b| b.serving && !b.addr.is_unspecified()) {
                    self.hint = Some(b.addr);
                }
            }
            _ => {}
        }
        if self.retry_at.is_some_and(|t| now >= t) {
            self.retry_at = None;
            ctx.action(Action::FetchManifest { hint: self.hint });
        }
        Next::Stay(self)
    }
}
