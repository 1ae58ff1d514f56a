//! Inventory: the runtime collects this machine's inventory off the async runtime (it reads
//! sysfs and asks the BMC, which can take seconds) and hands back the upload body.

use std::net::Ipv4Addr;

use super::upload::Upload;
use super::{Action, Ctx, Input, Manifest, Ms};

#[derive(Debug)]
pub(super) struct Inventory {
    master: Ipv4Addr,
    manifest: Manifest,
}

pub(super) enum Next {
    Stay(Inventory),
    Upload(Upload),
}

impl Inventory {
    pub(super) fn start(ctx: &mut Ctx, _now: Ms, master: Ipv4Addr, manifest: Manifest) -> Inventory {
        ctx.action(Action::CollectInventory);
        Inventory { master, manifest }
    }

    pub(super) fn step(self, ctx: &mut Ctx, now: Ms, input: Option<Input>) -> Next {
        match input {
            Some(Input::InventoryDone(Ok(body))) => {
                ctx.event("inventory", "inventory", format!("{} bytes", body.len()), now);
                Next::Upload(Upload::start(ctx, now, self.master, self.manifest, body))
            }
            // The collector itself never fails; encoding or the worker thread could. Ask again:
            // an inventory is the point of the boot.
            Some(Input::InventoryDone(Err(e))) => {
                ctx.event("inventory-failed", "inventory", e.to_string(), now);
                ctx.action(Action::CollectInventory);
                Next::Stay(self)
            }
            _ => Next::Stay(self),
        }
    }
}
