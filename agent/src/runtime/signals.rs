//! Termination signals: SIGTERM (systemd stopping the unit at power-off, `kill`), SIGINT
//! (Ctrl-C) and SIGHUP end recon after every store has written and fsynced what it was given,
//! so what the master acknowledged is on the disk before systemd unmounts it.

use nix::sys::signal::{SigSet, Signal};

/// Blocks the termination signals in this thread, and so in every thread it starts afterwards,
/// and has one thread wait for them. Call before starting any other thread.
pub(crate) fn install() {
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(s);
    }
    if let Err(e) = set.thread_block() {
        log::warn!("signals: cannot block the termination signals ({e}); a stop may lose unsynced events");
        return;
    }
    let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || {
        let sig = match set.wait() {
            Ok(s) => s,
            Err(e) => {
                log::warn!("signals: sigwait: {e}");
                return;
            }
        };
        log::info!("recon: {sig}: writing what was received, then stopping");
        super::store::sync_all();
        // 128 + the signal's number, as a shell reports it; SIGTERM is the expected way out.
        std::process::exit(if sig == Signal::SIGTERM { 0 } else { 128 + sig as i32 });
    });
    if let Err(e) = spawned {
        log::warn!("signals: no signal thread ({e})");
    }
}
