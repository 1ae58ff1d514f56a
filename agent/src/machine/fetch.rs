//! Fetch: find the master and get its manifest. The hint comes from the command line
//! (`pxeaddr=`, `recon.master=`) or a serving beacon; without one the runtime asks DHCP (the
//! server identifier of the lease is the master). Retries with capped exponential backoff until
//! it works: a peer waits for its master.
//!
//! A node booted from its own medium follows a master it only heard of (an election's winner,
//! a beacon), so it checks what it heard: the manifest must name the MAC of the beacon it
//! followed, and a master that falls silent for [`SILENT_MS`], whose claimed address gives no
//! manifest within [`CLAIM_MS`], or that never serves within [`FOLLOW_MS`] is given up: the
//! node elects again (without a master whose claim failed, see [`super::DISTRUST_MS`]). A stray
//! or forged beacon can so delay a rack's master by a minute, not stop it. Of two masters that
//! beacon, a node follows the lower MAC: the other yields to it (see [`super::serve`]).

use std::net::Ipv4Addr;

use netboot_proto::Mac;

use super::beacon::Beacon;
use super::elect::Elect;
use super::inventory::Inventory;
use super::{Action, Ctx, Input, Ms, backoff};

/// A followed master that sends no beacon this long is gone.
pub(super) const SILENT_MS: Ms = 30_000;
/// A followed master that claims an address must answer a manifest there within this.
pub(super) const CLAIM_MS: Ms = 60_000;
/// A followed master must be serving within this (a stick's master takes seconds to tens of
/// seconds between its election and its first manifest, more under TCG).
pub(super) const FOLLOW_MS: Ms = 300_000;

#[derive(Debug)]
pub(super) struct Fetch {
    hint: Option<Ipv4Addr>,
    /// The MAC of the master the hint came from, when a beacon gave it.
    master: Option<Mac>,
    attempt: u32,
    retry_at: Option<Ms>,
    /// Set for a candidate (booted from its own medium), which may elect again.
    follow: Option<Follow>,
}

#[derive(Debug)]
struct Follow {
    /// What Probe found, for a new election.
    foreign_dhcp: Option<Ipv4Addr>,
    /// When the followed master was last heard (or following began).
    heard: Ms,
    /// When it first claimed an address that has not yet given a manifest.
    claimed: Option<Ms>,
    /// When following this master began.
    since: Ms,
}

pub(super) enum Next {
    Stay(Fetch),
    Inventory(Inventory),
    Elect(Elect),
}

impl Fetch {
    /// A peer told where its master is (or to ask DHCP): it waits for that master.
    pub(super) fn start(ctx: &mut Ctx, _now: Ms, hint: Option<Ipv4Addr>) -> Fetch {
        ctx.action(Action::FetchManifest { hint });
        Fetch { hint, master: None, attempt: 0, retry_at: None, follow: None }
    }

    /// A candidate following `master` (its election's winner or a beacon's sender), serving at
    /// `addr` if known.
    pub(super) fn following(
        ctx: &mut Ctx,
        now: Ms,
        master: Mac,
        addr: Option<Ipv4Addr>,
        foreign_dhcp: Option<Ipv4Addr>,
    ) -> Fetch {
        ctx.action(Action::FetchManifest { hint: addr });
        let follow = Follow { foreign_dhcp, heard: now, claimed: addr.map(|_| now), since: now };
        Fetch { hint: addr, master: Some(master), attempt: 0, retry_at: None, follow: Some(follow) }
    }

    pub(super) fn deadline(&self) -> Option<Ms> {
        let give_up = self.follow.as_ref().map(|f| {
            let mut t = (f.heard + SILENT_MS).min(f.since + FOLLOW_MS);
            if let Some(c) = f.claimed {
                t = t.min(c + CLAIM_MS);
            }
            t
        });
        match (self.retry_at, give_up) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(super) fn step(mut self, ctx: &mut Ctx, now: Ms, input: Option<Input>) -> Next {
        match input {
            Some(Input::Manifest(Ok((master, manifest)))) if self.retry_at.is_none() => {
                let named = manifest.master.as_deref().and_then(Mac::parse);
                match (self.master, named) {
                    (Some(want), Some(got)) if want != got => {
                        let why = format!("{master} answers as {got}, not {want} whose beacon pointed there");
                        self.retry(ctx, now, why);
                    }
                    _ => {
                        ctx.event("manifest", "fetch", format!("master {master}"), now);
                        return Next::Inventory(Inventory::start(ctx, now, master, manifest));
                    }
                }
            }
            Some(Input::Manifest(Err(e))) if self.retry_at.is_none() => self.retry(ctx, now, e.to_string()),
            Some(Input::Beacon { data, .. }) => {
                if let Some(b) = Beacon::decode(&data).filter(|b| b.serving && ctx.trusts(b.mac, now)) {
                    self.heard(ctx, now, b);
                }
            }
            _ => {}
        }
        if let Some(f) = &self.follow {
            let master = self.master.map_or_else(|| "the master".to_owned(), |m| m.to_string());
            let why = if now >= f.heard + SILENT_MS {
                Some((format!("{master} fell silent"), false))
            } else if f.claimed.is_some_and(|c| now >= c + CLAIM_MS) {
                Some((format!("{master} claims {} but serves no manifest there", self.hint_text()), true))
            } else if now >= f.since + FOLLOW_MS {
                Some((format!("{master} never began to serve"), true))
            } else {
                None
            };
            if let Some((why, distrust)) = why {
                if distrust && let Some(m) = self.master {
                    ctx.distrust(m, now);
                }
                ctx.event("master-lost", "fetch", format!("{why}; electing again"), now);
                let foreign_dhcp = f.foreign_dhcp;
                let lowest = ctx.facts.mac;
                return Next::Elect(Elect::start(ctx, now, foreign_dhcp, lowest));
            }
        }
        if self.retry_at.is_some_and(|t| now >= t) {
            self.retry_at = None;
            ctx.action(Action::FetchManifest { hint: self.hint });
        }
        Next::Stay(self)
    }

    fn hint_text(&self) -> String {
        self.hint.map_or_else(|| "an address".to_owned(), |a| a.to_string())
    }

    fn retry(&mut self, ctx: &mut Ctx, now: Ms, why: String) {
        let wait = backoff(ctx, self.attempt);
        self.attempt += 1;
        self.retry_at = Some(now + wait);
        ctx.event("fetch-retry", "fetch", format!("{why}; again in {wait} ms"), now);
    }

    /// A serving beacon: the master followed (or a lower one, which the others yield to).
    fn heard(&mut self, ctx: &mut Ctx, now: Ms, b: Beacon) {
        if self.master.is_some_and(|m| b.mac > m) {
            // A higher master yields to the one followed.
            return;
        }
        let Some(f) = &mut self.follow else {
            // A peer told where its master is: only a beacon with an address moves it.
            if !b.addr.is_unspecified() {
                self.master = Some(b.mac);
                self.hint = Some(b.addr);
            }
            return;
        };
        if self.master != Some(b.mac) {
            if self.master.is_some() {
                ctx.event("master-found", "fetch", format!("{} serves too; following the lower MAC", b.mac), now);
            }
            self.master = Some(b.mac);
            f.since = now;
            f.claimed = None;
            self.hint = None;
        }
        f.heard = now;
        if !b.addr.is_unspecified() {
            if self.hint != Some(b.addr) {
                f.claimed = Some(now);
            }
            self.hint = Some(b.addr);
        }
    }
}
