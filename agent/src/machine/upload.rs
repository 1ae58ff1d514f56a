//! Upload: POST the inventory to the master with the token, until it answers 201. Every other
//! answer, and every transport error, is retried with capped exponential backoff and jitter, so
//! twenty peers that lost their master do not come back in lockstep. Power-off is the second
//! phase of a two-phase commit: only the 201 leads there.

use std::net::Ipv4Addr;

use super::poweroff::Poweroff;
use super::{Action, Ctx, Input, Manifest, Ms, backoff};

#[derive(Debug)]
pub(super) struct Upload {
    master: Ipv4Addr,
    manifest: Manifest,
    body: Vec<u8>,
    attempt: u32,
    retry_at: Option<Ms>,
}

pub(super) enum Next {
    Stay(Upload),
    Poweroff(Poweroff),
}

impl Upload {
    pub(super) fn start(ctx: &mut Ctx, now: Ms, master: Ipv4Addr, manifest: Manifest, body: Vec<u8>) -> Upload {
        let u = Upload { master, manifest, body, attempt: 0, retry_at: None };
        u.send(ctx, now);
        u
    }

    fn send(&self, ctx: &mut Ctx, _now: Ms) {
        ctx.action(Action::Upload {
            master: self.master,
            url: self.manifest.upload_url.replace("{mac}", &ctx.facts.mac.to_string()),
            // The master's own answer first: it is the one that checks it.
            token: self.manifest.token.clone().or_else(|| ctx.facts.cmdline.token.clone()),
            body: self.body.clone(),
        });
    }

    pub(super) fn deadline(&self) -> Option<Ms> {
        self.retry_at
    }

    pub(super) fn step(mut self, ctx: &mut Ctx, now: Ms, input: Option<Input>) -> Next {
        match input {
            Some(Input::UploadResult(Ok(201))) if self.retry_at.is_none() => {
                ctx.event("acknowledged", "upload", format!("201 from {}", self.master), now);
                return Next::Poweroff(Poweroff::start(ctx, now, self.master, &self.manifest));
            }
            Some(Input::UploadResult(r)) if self.retry_at.is_none() => {
                let why = match r {
                    Ok(status) => format!("HTTP {status}"),
                    Err(e) => e.to_string(),
                };
                let wait = backoff(ctx, self.attempt);
                self.attempt += 1;
                self.retry_at = Some(now + wait);
                ctx.event(
                    "upload-retry",
                    "upload",
                    format!("{why}; attempt {} again in {wait} ms", self.attempt + 1),
                    now,
                );
            }
            _ => {}
        }
        if self.retry_at.is_some_and(|t| now >= t) {
            self.retry_at = None;
            self.send(ctx, now);
        }
        Next::Stay(self)
    }
}
