//! The agent as a typed state machine: `Probe → Elect → Serve | Fetch → Inventory → Upload →
//! Poweroff` (docs/ARCHITECTURE.md, "The sans-IO line").
//!
//! Each phase is its own struct holding only its data and deadlines; a transition is a method
//! that consumes the phase and takes what caused it, so an impossible transition does not
//! compile. [`Agent`] owns the current phase, takes [`Input`]s with the time, and yields
//! [`Output`]s: datagrams to send, actions for the runtime, events for the timeline, and the
//! next deadline. Nothing here reads a clock, a file or a socket: time is milliseconds since the
//! agent started, passed in; every phase is tested with a virtual clock and an in-memory network.

pub mod beacon;
pub mod cmdline;
mod elect;
mod fetch;
mod inventory;
mod poweroff;
mod probe;
mod serve;
mod upload;

#[cfg(test)]
mod sim;

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use netboot_proto::Mac;

pub use cmdline::{Cmdline, DhcpPolicy, PowerPolicy, Role};
use elect::Elect;
use fetch::Fetch;
use inventory::Inventory;
use poweroff::Poweroff;
use probe::Probe;
use serve::Serve;
use upload::Upload;

/// Milliseconds since the agent started.
pub type Ms = u64;

/// The UDP port beacons use (chosen from the dynamic range; nothing else on a boot segment
/// uses it).
pub const BEACON_PORT: u16 = 47_391;

/// What the runtime learned about this machine before the agent starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The kernel command line.
    pub cmdline: Cmdline,
    /// The MAC the agent speaks for: BOOTIF's, else the lowest MAC of a link with carrier.
    pub mac: Mac,
    /// A BMC is there (`/dev/ipmi0` or SMBIOS type 38).
    pub ipmi: bool,
    /// Wall-clock boot time, Unix ms (a tie-breaker nobody relies on; carried in beacons).
    pub boot_unix_ms: u64,
    /// recon's version.
    pub version: u32,
}

/// What the master hands a peer (`GET /api/v1/manifest`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// Where to POST the inventory (`http://A.B.C.D/api/v1/nodes/{mac}/inventory`, with the
    /// literal `{mac}`).
    pub upload_url: String,
    /// The master's power-off policy for peers, overriding `auto` on the peer's command line.
    pub poweroff: Option<String>,
    /// The upload token for this node's MAC (asked with `?mac=`): what a node booted from its
    /// own media uses, having no `recon.token=` on its command line.
    #[serde(default)]
    pub token: Option<String>,
    /// Whether the master keeps what it acknowledges past its own power-off (its data directory
    /// is on persistent storage). A master that says `false` cannot vouch for the inventory, and
    /// the peer does not power off. Masters that do not say keep it.
    #[serde(default = "yes")]
    pub durable: bool,
    /// The MAC of the master that answers (`52:54:00:..`): a node that followed a beacon checks
    /// it against the beacon's, so a beacon cannot point it at some other server. Masters that
    /// do not say are taken at their word.
    #[serde(default)]
    pub master: Option<String>,
}

fn yes() -> bool {
    true
}

/// Why something the runtime did for the machine failed: the machine retries by the kind, the
/// timeline shows the words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No address on the link: no DHCP server answered (yet).
    NoAddress(String),
    /// No master known to ask.
    NoMaster,
    /// The master answered with this HTTP status.
    Status(u16),
    /// The network: connecting, sending or receiving failed or timed out.
    Network(String),
    /// The answer was not what was asked for (not a manifest, ...).
    Invalid(String),
    /// This machine: collecting, encoding, starting a service.
    Local(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::NoAddress(why) => write!(f, "no address: {why}"),
            Failure::NoMaster => f.write_str("no master known yet"),
            Failure::Status(s) => write!(f, "HTTP {s}"),
            Failure::Network(why) => write!(f, "network: {why}"),
            Failure::Invalid(why) => write!(f, "unexpected answer: {why}"),
            Failure::Local(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Failure {}

/// Something the agent learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A datagram on the beacon port.
    Beacon {
        /// The sender's address.
        from: Ipv4Addr,
        /// The datagram.
        data: Vec<u8>,
    },
    /// The DHCP probe's result: the address of a foreign DHCP server, if one answered.
    ProbeResult {
        /// The server that answered.
        foreign_dhcp: Option<Ipv4Addr>,
    },
    /// The master's services are up (or failed to start).
    ServeStarted(Result<Ipv4Addr, Failure>),
    /// The manifest request's result.
    Manifest(Result<(Ipv4Addr, Manifest), Failure>),
    /// The inventory, encoded for upload (postcard), or why collection failed.
    InventoryDone(Result<Vec<u8>, Failure>),
    /// The upload's HTTP status, or the transport error.
    UploadResult(Result<u16, Failure>),
    /// A host with an address spoke on the segment (ARP) while this node probed and elected: the
    /// segment is somebody's network, and `auto` serves no DHCP on it.
    HostSeen {
        /// Its address.
        ip: Ipv4Addr,
        /// Its MAC.
        mac: Mac,
    },
    /// [`Action::CheckMaster`]'s answer: that master serves a manifest naming its MAC there.
    MasterChecked(Result<(), Failure>),
    /// [`Action::StopMaster`] is done: this node's services are down, its store closed, and the
    /// address it took for them given up. What it did, for the timeline.
    MasterStopped(Result<String, Failure>),
}

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Broadcast a DHCPDISCOVER on the boot link and report offers from other servers.
    ProbeDhcp,
    /// Start the master's services.
    StartMaster {
        /// What DHCP may do.
        dhcp: DhcpPolicy,
        /// The address to serve on, when the link has none.
        address: Option<(Ipv4Addr, u8)>,
        /// The operator's finish powers this node off (not with `recon.poweroff=never`).
        poweroff_on_finish: bool,
        /// What Probe and Elect found on the segment that turned `auto` off (another DHCP server,
        /// a host with an address): the master says so, loudly.
        not_alone: Option<String>,
    },
    /// Find the master (the hint, else DHCP server id / beacon) and GET its manifest.
    FetchManifest {
        /// Where the master is thought to be.
        hint: Option<Ipv4Addr>,
    },
    /// Collect this machine's inventory off the async runtime.
    CollectInventory,
    /// Keep this (the master's own) inventory in the local store.
    StoreOwnInventory(Vec<u8>),
    /// POST the inventory.
    Upload {
        /// The master.
        master: Ipv4Addr,
        /// Where to POST.
        url: String,
        /// The upload token, sent as `Authorization: Bearer`.
        token: Option<String>,
        /// The inventory, postcard.
        body: Vec<u8>,
    },
    /// Sync and power off (reboot(RB_POWER_OFF); IPMI chassis control as fallback).
    PowerOff,
    /// Stay up; print this on the console.
    Announce(String),
    /// Ask the master a beacon claims serves at `addr` for its manifest (no token asked) and
    /// check it names `mac`.
    CheckMaster {
        /// Where the beacon says it serves.
        addr: Ipv4Addr,
        /// Whose beacon it was.
        mac: Mac,
    },
    /// Stand this master down for another: DHCP stops, the store is closed (RECONDATA
    /// unmounted), the services end and the address taken for them is given up.
    StopMaster {
        /// The master this one yields to, for the console.
        to: Mac,
        /// Where it serves.
        addr: Ipv4Addr,
    },
    /// Another master (a higher MAC, which yields to this one) serves at `addr`: its DHCP
    /// replies are no sign of a foreign server for a while (the interlock would otherwise stop
    /// this one's DHCP before the other has stood down).
    RivalMaster {
        /// Where it serves.
        addr: Ipv4Addr,
    },
}

/// An event for the node's timeline on the master.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Event {
    /// `phase`, `beacon`, `upload-retry`, ...
    pub kind: &'static str,
    /// The phase entered, for `phase`.
    pub phase: &'static str,
    /// Human detail.
    pub detail: String,
    /// When, agent ms.
    pub at: Ms,
}

/// What the agent wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Broadcast a datagram on the beacon port.
    Broadcast(Vec<u8>),
    /// Do this.
    Action(Action),
    /// Put this on the node's timeline.
    Event(Event),
}

/// The current phase.
#[derive(Debug)]
enum Phase {
    Probe(Probe),
    Elect(Elect),
    Serve(Serve),
    Fetch(Fetch),
    Inventory(Inventory),
    Upload(Upload),
    Poweroff(Poweroff),
    /// Finished (powered off or announced done).
    Done,
}

impl Phase {
    fn name(&self) -> &'static str {
        match self {
            Phase::Probe(_) => "probe",
            Phase::Elect(_) => "elect",
            Phase::Serve(_) => "serve",
            Phase::Fetch(_) => "fetch",
            Phase::Inventory(_) => "inventory",
            Phase::Upload(_) => "upload",
            Phase::Poweroff(_) => "poweroff",
            Phase::Done => "done",
        }
    }
}

/// Shared by the phases: facts and the output queue.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) facts: Facts,
    out: VecDeque<Output>,
    /// A deterministic per-agent random sequence for jitter (xorshift64* seeded by the MAC).
    rng: u64,
    /// Masters whose beacons' claims did not hold, and until when their beacons are ignored.
    distrusted: Vec<(Mac, Ms)>,
    /// The first host with an address heard while probing and electing.
    pub(crate) host_seen: Option<(Ipv4Addr, Mac)>,
}

impl Ctx {
    pub(crate) fn action(&mut self, a: Action) {
        self.out.push_back(Output::Action(a));
    }

    pub(crate) fn broadcast(&mut self, data: Vec<u8>) {
        self.out.push_back(Output::Broadcast(data));
    }

    pub(crate) fn event(&mut self, kind: &'static str, phase: &'static str, detail: String, at: Ms) {
        self.out.push_back(Output::Event(Event { kind, phase, detail, at }));
    }

    /// Ignores `mac`'s beacons for [`DISTRUST_MS`].
    pub(crate) fn distrust(&mut self, mac: Mac, now: Ms) {
        self.distrusted.retain(|&(m, until)| m != mac && until > now);
        self.distrusted.push((mac, now + DISTRUST_MS));
    }

    /// Whether `mac`'s beacons are believed at `now`.
    pub(crate) fn trusts(&self, mac: Mac, now: Ms) -> bool {
        !self.distrusted.iter().any(|&(m, until)| m == mac && now < until)
    }

    /// A number in `0..n`.
    pub(crate) fn random(&mut self, n: u64) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// How long a master whose beacon's claim did not hold is ignored.
pub(crate) const DISTRUST_MS: Ms = 300_000;

/// Capped exponential backoff with ±25 % jitter: 1 s, 2 s, 4 s ... 30 s.
pub(crate) fn backoff(ctx: &mut Ctx, attempt: u32) -> Ms {
    let base: Ms = 1000u64.saturating_mul(1u64 << attempt.min(5)).min(30_000);
    let quarter = base / 4;
    base - quarter + ctx.random(2 * quarter + 1)
}

/// The agent.
#[derive(Debug)]
pub struct Agent {
    phase: Phase,
    ctx: Ctx,
}

impl Agent {
    /// Starts in Probe at time `now`.
    pub fn new(facts: Facts, now: Ms) -> Agent {
        let seed =
            facts.mac.0.iter().fold(0x9e37_79b9_7f4a_7c15u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
                | 1;
        let mut ctx = Ctx { facts, out: VecDeque::new(), rng: seed, distrusted: Vec::new(), host_seen: None };
        let phase = Probe::start(&mut ctx, now);
        let mut a = Agent { phase: Phase::Probe(phase), ctx };
        a.ctx.event("phase", "probe", String::new(), now);
        // Probe may decide at once (a PXE-booted peer, a forced role).
        a.advance(now, None);
        a
    }

    /// The current phase's name.
    pub fn phase(&self) -> &'static str {
        self.phase.name()
    }

    /// Feeds an input at time `now`.
    pub fn handle_input(&mut self, now: Ms, input: Input) {
        if let Input::HostSeen { ip, mac } = input {
            // Only what is heard before this node decides counts: once it serves, its own
            // clients have addresses.
            if matches!(self.phase, Phase::Probe(_) | Phase::Elect(_)) && self.ctx.host_seen.is_none() {
                self.ctx.host_seen = Some((ip, mac));
                self.ctx.event("host-seen", self.phase.name(), format!("{ip} ({mac}) has an address here"), now);
            }
            return;
        }
        self.advance(now, Some(input));
    }

    /// Lets time pass to `now` (deadlines fire).
    pub fn handle_timeout(&mut self, now: Ms) {
        self.advance(now, None);
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.ctx.out.pop_front()
    }

    /// When the agent next wants to be woken without input.
    pub fn next_deadline(&self) -> Option<Ms> {
        match &self.phase {
            Phase::Probe(p) => p.deadline(),
            Phase::Elect(e) => Some(e.deadline()),
            Phase::Serve(s) => Some(s.deadline()),
            Phase::Fetch(f) => f.deadline(),
            Phase::Inventory(_) => None,
            Phase::Upload(u) => u.deadline(),
            Phase::Poweroff(_) | Phase::Done => None,
        }
    }

    /// Runs the current phase on the input (or the time), and every transition that follows.
    fn advance(&mut self, now: Ms, mut input: Option<Input>) {
        loop {
            let before = self.phase.name();
            let phase = std::mem::replace(&mut self.phase, Phase::Done);
            let ctx = &mut self.ctx;
            self.phase = match phase {
                Phase::Probe(p) => match p.step(ctx, now, input.take()) {
                    probe::Next::Stay(p) => Phase::Probe(p),
                    probe::Next::Elect(e) => Phase::Elect(e),
                    probe::Next::Serve(s) => Phase::Serve(s),
                    probe::Next::Fetch(f) => Phase::Fetch(f),
                },
                Phase::Elect(e) => match e.step(ctx, now, input.take()) {
                    elect::Next::Stay(e) => Phase::Elect(e),
                    elect::Next::Serve(s) => Phase::Serve(s),
                    elect::Next::Fetch(f) => Phase::Fetch(f),
                },
                Phase::Serve(s) => match s.step(ctx, now, input.take()) {
                    serve::Next::Stay(s) => Phase::Serve(s),
                    serve::Next::Fetch(f) => Phase::Fetch(f),
                },
                Phase::Fetch(f) => match f.step(ctx, now, input.take()) {
                    fetch::Next::Stay(f) => Phase::Fetch(f),
                    fetch::Next::Inventory(i) => Phase::Inventory(i),
                    fetch::Next::Elect(e) => Phase::Elect(e),
                },
                Phase::Inventory(i) => match i.step(ctx, now, input.take()) {
                    inventory::Next::Stay(i) => Phase::Inventory(i),
                    inventory::Next::Upload(u) => Phase::Upload(u),
                },
                Phase::Upload(u) => match u.step(ctx, now, input.take()) {
                    upload::Next::Stay(u) => Phase::Upload(u),
                    upload::Next::Poweroff(p) => Phase::Poweroff(p),
                },
                Phase::Poweroff(p) => {
                    p.finish(ctx, now);
                    Phase::Done
                }
                Phase::Done => Phase::Done,
            };
            let after = self.phase.name();
            if before == after {
                return;
            }
            self.ctx.event("phase", after, format!("from {before}"), now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sim::facts;
    use super::*;

    fn drain(a: &mut Agent) -> Vec<Output> {
        std::iter::from_fn(|| a.poll_output()).collect()
    }

    fn actions(out: &[Output]) -> Vec<&Action> {
        out.iter().filter_map(|o| if let Output::Action(a) = o { Some(a) } else { None }).collect()
    }

    #[test]
    fn a_pxe_booted_peer_fetches_from_pxeaddr_at_once() {
        let mut a = Agent::new(facts(1, "BOOTIF=01-52-54-00-00-00-01 pxeaddr=10.1.2.3 recon.token=aa", false), 0);
        assert_eq!(a.phase(), "fetch");
        let out = drain(&mut a);
        assert_eq!(actions(&out), [&Action::FetchManifest { hint: Some(Ipv4Addr::new(10, 1, 2, 3)) }]);
        // Failures back off: about 1 s, then 2 s, ... never past 30 s (+25 %).
        let mut now = 0;
        let mut waits = Vec::new();
        for _ in 0..8 {
            a.handle_input(now, Input::Manifest(Err(Failure::Network("connection refused".into()))));
            let t = a.next_deadline().unwrap();
            waits.push(t - now);
            now = t;
            a.handle_timeout(now);
            assert!(
                actions(&drain(&mut a)).contains(&&Action::FetchManifest { hint: Some(Ipv4Addr::new(10, 1, 2, 3)) })
            );
        }
        assert!((750..=1250).contains(&waits[0]) && (1500..=2500).contains(&waits[1]), "{waits:?}");
        assert!(waits.iter().all(|&w| w <= 37_500), "{waits:?}");
        assert!(waits[7] >= 22_500, "{waits:?}");
    }

    #[test]
    fn a_candidate_that_hears_a_serving_master_joins_it() {
        let mut a = Agent::new(facts(1, "root=live:CDLABEL=RECON", false), 0);
        assert_eq!(a.phase(), "probe");
        assert_eq!(actions(&drain(&mut a)), [&Action::ProbeDhcp]);
        a.handle_input(100, Input::ProbeResult { foreign_dhcp: None });
        assert_eq!(a.phase(), "elect");
        let b = beacon::Beacon {
            mac: Mac([0x52, 0x54, 0, 0, 0, 0x99]),
            serving: true,
            candidate: false,
            boot_unix_ms: 0,
            addr: Ipv4Addr::new(10, 0, 0, 9),
        };
        a.handle_input(200, Input::Beacon { from: Ipv4Addr::new(10, 0, 0, 9), data: b.encode() });
        assert_eq!(a.phase(), "fetch");
        assert!(actions(&drain(&mut a)).contains(&&Action::FetchManifest { hint: Some(Ipv4Addr::new(10, 0, 0, 9)) }));
    }

    #[test]
    fn a_master_beacons_while_it_starts_and_a_late_candidate_waits_for_it() {
        // The winner: it beacons "serving, 0.0.0.0" at once, before its services are up.
        let mut m = Agent::new(facts(1, "root=live:CDLABEL=RECON", false), 0);
        m.handle_input(100, Input::ProbeResult { foreign_dhcp: None });
        drain(&mut m);
        m.handle_timeout(100 + elect::ELECT_MS);
        assert_eq!(m.phase(), "serve");
        let starting = drain(&mut m)
            .into_iter()
            .find_map(|o| match o {
                Output::Broadcast(d) => beacon::Beacon::decode(&d),
                _ => None,
            })
            .expect("a beacon while the services start");
        assert!(starting.serving && starting.addr.is_unspecified(), "{starting:?}");
        // A node that boots later, with a higher MAC, hears it in its election and does not
        // elect itself: it fetches, and finds the master's address later.
        let mut late = Agent::new(facts(2, "root=live:CDLABEL=RECON", false), 0);
        late.handle_input(100, Input::ProbeResult { foreign_dhcp: None });
        late.handle_input(200, Input::Beacon { from: Ipv4Addr::UNSPECIFIED, data: starting.encode() });
        assert_eq!(late.phase(), "fetch");
        late.handle_timeout(200 + elect::ELECT_MS);
        assert_eq!(late.phase(), "fetch", "never serves beside it");
    }

    #[test]
    fn a_foreign_dhcp_server_or_a_configured_host_turns_the_winners_dhcp_off_unless_asked_for() {
        let other = Ipv4Addr::new(192, 168, 1, 1);
        let host = (Ipv4Addr::new(10, 0, 0, 5), Mac([2, 0, 0, 0, 0, 5]));
        let server_said = Some("ANOTHER DHCP SERVER (192.168.1.1) ANSWERS".to_owned());
        let host_said = Some("A HOST WITH AN ADDRESS (10.0.0.5, 02:00:00:00:00:05) SPEAKS".to_owned());
        for (line, server, seen, dhcp, not_alone) in [
            ("", Some(other), None, DhcpPolicy::Off, server_said.clone()),
            ("", None, Some(host), DhcpPolicy::Off, host_said),
            ("", None, None, DhcpPolicy::Auto, None),
            ("recon.dhcp=proxy", Some(other), None, DhcpPolicy::Proxy, None),
            ("recon.dhcp=full", Some(other), Some(host), DhcpPolicy::Full, None),
        ] {
            let mut a = Agent::new(facts(1, &format!("root=live:CDLABEL=RECON {line}"), false), 0);
            if let Some((ip, mac)) = seen {
                a.handle_input(50, Input::HostSeen { ip, mac });
            }
            a.handle_input(100, Input::ProbeResult { foreign_dhcp: server });
            a.handle_timeout(100 + elect::ELECT_MS);
            assert_eq!(a.phase(), "serve");
            // Heard once serving: its own clients; changes nothing.
            a.handle_input(200 + elect::ELECT_MS, Input::HostSeen { ip: host.0, mac: host.1 });
            let want = Action::StartMaster { dhcp, address: None, poweroff_on_finish: true, not_alone };
            assert!(actions(&drain(&mut a)).contains(&&want), "{line:?} {server:?} {seen:?}");
        }
    }

    #[test]
    fn the_upload_carries_the_manifests_token_else_the_command_lines() {
        for (line, from_master, want) in [
            ("recon.token=aa", Some("bb"), Some("bb")),
            ("recon.token=aa", None, Some("aa")),
            // Booted from media: no token on the command line, only the master's.
            ("", Some("bb"), Some("bb")),
            ("", None, None),
        ] {
            let line = format!("BOOTIF=01-52-54-00-00-00-01 pxeaddr=10.0.0.1 {line}");
            let mut a = Agent::new(facts(1, &line, false), 0);
            let man = Manifest {
                upload_url: "http://m/u/{mac}".into(),
                poweroff: None,
                token: from_master.map(str::to_owned),
                durable: true,
                master: None,
            };
            a.handle_input(1, Input::Manifest(Ok((Ipv4Addr::new(10, 0, 0, 1), man))));
            a.handle_input(2, Input::InventoryDone(Ok(vec![1])));
            let out = drain(&mut a);
            let sent = actions(&out).iter().find_map(|x| match x {
                Action::Upload { token, .. } => Some(token.clone()),
                _ => None,
            });
            assert_eq!(sent, Some(want.map(str::to_owned)), "{line} manifest {from_master:?}");
        }
    }

    #[test]
    fn the_masters_policy_overrides_auto_but_not_the_peers_never() {
        for (line, ipmi, from_master, off) in [
            ("recon.poweroff=auto", false, Some("always"), true),
            ("recon.poweroff=auto", true, Some("never"), false),
            ("recon.poweroff=never", true, Some("always"), false),
            ("recon.poweroff=auto", true, None, true),
            ("recon.poweroff=auto", false, None, false),
        ] {
            let line = format!("BOOTIF=01-52-54-00-00-00-01 pxeaddr=10.0.0.1 {line}");
            let mut a = Agent::new(facts(1, &line, ipmi), 0);
            let man = Manifest {
                upload_url: "http://10.0.0.1/u/{mac}".into(),
                poweroff: from_master.map(str::to_owned),
                token: None,
                durable: true,
                master: None,
            };
            a.handle_input(1, Input::Manifest(Ok((Ipv4Addr::new(10, 0, 0, 1), man))));
            a.handle_input(2, Input::InventoryDone(Ok(vec![1, 2, 3])));
            let out = drain(&mut a);
            assert!(
                actions(&out)
                    .iter()
                    .any(|x| matches!(x, Action::Upload { url, .. } if url == "http://10.0.0.1/u/52:54:00:00:00:01"))
            );
            a.handle_input(3, Input::UploadResult(Ok(201)));
            let out = drain(&mut a);
            assert_eq!(actions(&out).contains(&&Action::PowerOff), off, "{line} ipmi={ipmi} master={from_master:?}");
            assert_eq!(a.phase(), "done");
            let phases: Vec<&str> = out
                .iter()
                .filter_map(|o| if let Output::Event(e) = o { (e.kind == "phase").then_some(e.phase) } else { None })
                .collect();
            assert_eq!(phases, ["poweroff", "done"]);
        }
    }

    #[test]
    fn no_peer_powers_off_for_a_master_that_keeps_nothing() {
        for line in ["recon.poweroff=always", "recon.poweroff=auto"] {
            let line = format!("BOOTIF=01-52-54-00-00-00-01 pxeaddr=10.0.0.1 {line}");
            let mut a = Agent::new(facts(1, &line, true), 0);
            let man = Manifest {
                upload_url: "http://10.0.0.1/u/{mac}".into(),
                poweroff: None,
                token: None,
                durable: false,
                master: None,
            };
            a.handle_input(1, Input::Manifest(Ok((Ipv4Addr::new(10, 0, 0, 1), man))));
            a.handle_input(2, Input::InventoryDone(Ok(vec![1])));
            a.handle_input(3, Input::UploadResult(Ok(201)));
            let out = drain(&mut a);
            assert!(!actions(&out).contains(&&Action::PowerOff), "{line}");
            assert!(
                actions(&out).iter().any(|x| matches!(x, Action::Announce(m) if m.contains("keeps nothing"))),
                "{line}: {out:?}"
            );
        }
        // A manifest from a master that does not say is taken as durable.
        let m: Manifest = serde_json::from_str(r#"{"upload_url":"u","poweroff":null}"#).unwrap();
        assert!(m.durable);
    }
}
