//! Finishing: what the operator's finish (the board's `f`, `recon finish`, `POST
//! /api/v1/finish` from the master itself) does, in order: DHCP stops answering (no node starts a
//! boot it cannot finish), the reports are written, the store and the lease journal write, fsync
//! and close their files, RECONDATA is unmounted when the agent mounted it, the console says
//! "safe to remove the stick" with the counts, and a master booted from its stick powers off.
//! A master that stands down for another (`machine::serve`) winds up the same way, without the
//! power-off.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::dhcp::Closer;
use super::store::Store;

/// What a finish needs.
pub(crate) struct Finisher {
    pub(crate) store: Arc<Store>,
    pub(crate) data: PathBuf,
    /// Stops DHCP and closes the lease journal.
    pub(crate) dhcp: Option<Closer>,
    /// The agent mounted RECONDATA on `data`: unmount it.
    pub(crate) unmount: bool,
    /// A master booted from its stick: power off afterwards.
    pub(crate) poweroff: bool,
    started: AtomicBool,
}

impl Finisher {
    pub(crate) fn new(
        store: Arc<Store>,
        data: PathBuf,
        dhcp: Option<Closer>,
        unmount: bool,
        poweroff: bool,
    ) -> Finisher {
        Finisher { store, data, dhcp, unmount, poweroff, started: AtomicBool::new(false) }
    }

    /// Finishes (once; a second call says so). What it did, for the operator.
    pub(crate) fn finish(&self) -> Result<String, String> {
        self.wind_up(None)
    }

    /// Stands this master down for another (`to`, with a lower MAC, serves the segment): as a
    /// finish, but nothing powers off, and the console says the inventories stored so far stay
    /// here. Once, and not after a finish.
    pub(crate) fn stand_down(&self, to: &str) -> Result<String, String> {
        self.wind_up(Some(to))
    }

    fn wind_up(&self, yield_to: Option<&str>) -> Result<String, String> {
        if self.started.swap(true, Ordering::AcqRel) {
            return Err("already finishing".into());
        }
        let mut said = Vec::new();
        if let Some(d) = &self.dhcp {
            d.close();
            said.push("DHCP stopped; lease journal closed".to_owned());
        }
        let (seen, stored, unfinished) = {
            let f = self.store.fleet();
            let nodes: Vec<_> = f.nodes().collect();
            let stored = nodes.iter().filter(|n| n.steps.contains_key(&crate::serve::fleet::Step::Inventory)).count();
            let unfinished = nodes
                .iter()
                .filter(|n| n.end.is_none() && !n.steps.contains_key(&crate::serve::fleet::Step::Inventory))
                .count();
            (nodes.len(), stored, unfinished)
        };
        match super::report::write(&self.data, self.store.stuck_ms()) {
            Ok(n) => said.push(format!("{n} report files written")),
            Err(e) => said.push(format!("the reports could not be written: {e}")),
        }
        self.store.close_blocking().map_err(|e| format!("closing the data directory: {e}"))?;
        said.push("every inventory and event fsynced, files closed".to_owned());
        let mut safe = true;
        if self.unmount {
            match unmount(&self.data) {
                Ok(()) => said.push(format!("RECONDATA unmounted from {}", self.data.display())),
                Err(e) => {
                    safe = false;
                    said.push(format!("RECONDATA could not be unmounted ({e})"));
                }
            }
        }
        let counts = format!("{seen} nodes seen, {stored} inventories stored, {unfinished} never finished");
        let poweroff = self.poweroff && yield_to.is_none();
        let verdict = match (yield_to, safe, self.unmount || self.poweroff) {
            (Some(to), ..) => format!(
                "recon: this master STOOD DOWN for {to}, which serves this segment (a lower MAC): {counts} here, \
                 kept {}; this node goes on as a node of {to}",
                if self.unmount && safe { "on this stick (unmounted)" } else { "in its data directory" }
            ),
            (None, true, true) => format!("recon: SAFE TO REMOVE THE STICK: {counts}"),
            (None, true, false) => format!("recon: finished, everything is on disk: {counts}"),
            (None, false, _) => format!("recon: DO NOT REMOVE THE STICK YET (it is still mounted): {counts}"),
        };
        said.push(verdict.clone());
        if poweroff {
            said.push("this master powers off now".into());
        }
        let text = said.join("\n");
        log::warn!("{}", text.replace('\n', "; "));
        console(&format!("\n{text}\n"));
        if poweroff {
            // Let the answer reach whoever asked, then power off the way systemd does it.
            std::thread::spawn(|| {
                std::thread::sleep(Duration::from_secs(3));
                let ok = std::process::Command::new("systemctl")
                    .args(["poweroff", "--no-block"])
                    .status()
                    .is_ok_and(|s| s.success());
                if !ok {
                    nix::unistd::sync();
                    let _ = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_POWER_OFF);
                }
            });
        }
        Ok(text)
    }
}

/// umount(2), retrying a few seconds while something still has a file open there.
fn unmount(dir: &std::path::Path) -> nix::Result<()> {
    let mut last = nix::errno::Errno::EBUSY;
    for _ in 0..20 {
        match nix::mount::umount2(dir, nix::mount::MntFlags::empty()) {
            Ok(()) => return Ok(()),
            Err(nix::errno::Errno::EBUSY) => std::thread::sleep(Duration::from_millis(500)),
            Err(e) => {
                last = e;
                break;
            }
        }
    }
    Err(last)
}

fn console(text: &str) {
    if let Ok(mut c) = std::fs::OpenOptions::new().write(true).open("/dev/console") {
        use std::io::Write;
        let _ = c.write_all(text.as_bytes());
    }
}
