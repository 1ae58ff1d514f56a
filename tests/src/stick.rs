//! The stick, as a person uses it: the real live image (kiwi/, `make-recipe-target debian-12
//! virtual`) booted from a USB disk through the firmware, with nobody typing anything. The
//! node becomes the master by itself; peers PXE-boot the same image from it (iPXE, then dracut
//! livenet fetching the ISO into RAM), inventory themselves, upload, and power off when they
//! have a BMC; a second stick booted at the same time yields to the lower MAC and uploads as a
//! peer (unless its agent started more than the election's window before the first stick's:
//! then it serves, the first yields to it, and its copy of the stick is the one checked). Then the operator finishes at the master's console: on the board that tty1 shows, `f`
//! and `y` (keys sent to the VM's VGA console through QEMU's monitor, screenshots kept as
//! board*.png; the power button only if the board does not answer), and the master writes its
//! reports, unmounts RECONDATA and powers off. The stick image's RECONDATA partition is opened
//! read-only here and checked: clean, holding every node's inventory with the exact serials,
//! MACs and disk serials of its QEMU command line, and the reports. Everything is watched from outside: the VMs' serial
//! consoles, QEMU's exits, and the stick image afterwards; nothing else is on the segment.
//!
//! Network safety: one namespace made here, a bridge with no address and a tap per VM; QEMU
//! never uses user-mode networking; every VM has a time limit and is stopped by PID.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::rack::{Firmware, PeerPath, Vm, check, qemu_args, tail};
use crate::{Netns, program, run};

/// What to run.
#[derive(Debug, Clone)]
pub struct StickOpts {
    /// The stick image (`*.stick.raw`); each stick VM boots a copy of it.
    pub image: PathBuf,
    /// Scratch directory: the copies, the VMs' disks, serial logs, what RECONDATA held.
    pub dir: PathBuf,
    /// Peers that PXE-boot from the master.
    pub peers: usize,
    /// Boot a second stick at the same time as the first.
    pub second_stick: bool,
    /// Peers booting at once.
    pub parallel: usize,
    /// Per VM, from its power-on to its end.
    pub timeout: Duration,
}

/// The first stick: the master (lowest MAC of the two sticks).
pub fn stick_vm(k: u8) -> Vm {
    Vm {
        name: if k == 1 { "stick".into() } else { format!("stick{k}") },
        mac: [0x52, 0x54, 0x00, 0x5c, 0x00, k],
        firmware: Firmware::Bios,
        path: PeerPath::Full,
        nic: "virtio-net-pci",
        bmc: false,
        sockets: 1,
        cores: 1,
        threads: 1,
        mem_mb: 2048,
        serial: format!("STICK-SN-{k:03}"),
        uuid: format!("5c1c0000-0000-4000-8000-0000000000{k:02x}"),
        nvme_serial: format!("STICK-NVME-{k:03}"),
        sata_serial: format!("STICK-SATA-{k:03}"),
    }
}

/// Peers: BIOS and UEFI, e1000 and virtio, the first with an emulated BMC.
pub fn peer_vms(n: usize) -> Vec<Vm> {
    (0..n)
        .map(|i| {
            let k = i as u8 + 1;
            let uefi = i % 2 == 1;
            Vm {
                name: format!("peer{k}"),
                mac: [0x52, 0x54, 0x00, 0x5e, 0x00, k],
                firmware: if uefi { Firmware::Uefi } else { Firmware::Bios },
                path: PeerPath::Full,
                // OVMF has no e1000 driver: UEFI peers use virtio.
                nic: if i % 3 == 0 { "e1000" } else { "virtio-net-pci" },
                bmc: i == 0,
                sockets: 1,
                cores: 1 + (i % 2) as u32,
                threads: 1,
                // dracut keeps the downloaded ISO and the copied live root in RAM.
                mem_mb: 1536 + 256 * (i % 2) as u32,
                serial: format!("PEER-SN-{k:03}"),
                uuid: format!("5e0e0000-0000-4000-8000-0000000000{k:02x}"),
                nvme_serial: format!("PEER-NVME-{k:03}"),
                sata_serial: format!("PEER-SATA-{k:03}"),
            }
        })
        .collect()
}

/// One VM's story, in seconds from the first stick's power-on.
#[derive(Debug, Clone)]
pub struct Story {
    /// The VM.
    pub vm: Vm,
    /// Booted from a stick (else PXE).
    pub stick: bool,
    /// Power-on.
    pub on_s: f64,
    /// The master serves (the master only).
    pub serving_s: Option<f64>,
    /// The master logged this node's inventory stored (201).
    pub stored_s: Option<f64>,
    /// QEMU exited by itself (the guest powered off).
    pub off_s: Option<f64>,
    /// The guest said it is done and stays up.
    pub announced: bool,
    /// What went wrong.
    pub problems: Vec<String>,
}

/// The whole run.
#[derive(Debug)]
pub struct StickReport {
    /// Every VM, the master first.
    pub stories: Vec<Story>,
    /// What the host found on RECONDATA, line by line.
    pub check: Vec<String>,
    /// Power-on of the first stick to the end of the check.
    pub total_s: f64,
    /// What went wrong beyond single VMs.
    pub errors: Vec<String>,
}

impl StickReport {
    /// Whether everything held.
    pub fn ok(&self) -> bool {
        self.errors.is_empty() && self.stories.iter().all(|s| s.problems.is_empty())
    }

    /// The timeline and the check, as printed at the end.
    pub fn text(&self) -> String {
        let mut s = String::from("timeline (seconds from the stick's power-on):\n");
        let t = |x: Option<f64>| x.map_or("-".to_owned(), |v| format!("{v:.0}"));
        for st in &self.stories {
            let since = |x: Option<f64>| x.map_or("-".to_owned(), |v| format!("{:.0}", v - st.on_s));
            let what = if st.serving_s.is_some() {
                format!("serving at {} s", t(st.serving_s))
            } else {
                format!("inventory stored at {} s ({} s after its power-on)", t(st.stored_s), since(st.stored_s))
            };
            let end = match (st.off_s, st.announced) {
                (Some(x), _) => format!("; powered off at {x:.0} s"),
                (None, true) => "; up, said done".into(),
                _ => String::new(),
            };
            s.push_str(&format!(
                "  {:<7} {} {:<5} {:<15} bmc {:<3}  power-on {:>4.0} s  {what}{end}\n",
                st.vm.name,
                if st.stick { "usb " } else { "pxe " },
                if st.vm.firmware == Firmware::Uefi { "uefi" } else { "bios" },
                st.vm.nic,
                if st.vm.bmc { "yes" } else { "no" },
                st.on_s
            ));
            for p in &st.problems {
                s.push_str(&format!("          PROBLEM {p}\n"));
            }
        }
        s.push_str(&format!("  total: {:.0} s (stick power-on to the RECONDATA check)\n", self.total_s));
        s.push_str("RECONDATA, opened read-only on the host:\n");
        for l in &self.check {
            s.push_str(&format!("  {l}\n"));
        }
        for e in &self.errors {
            s.push_str(&format!("stick: {e}\n"));
        }
        s
    }
}

struct Running {
    story: Story,
    child: Child,
    log: PathBuf,
    tap: String,
    monitor: Option<PathBuf>,
}

fn say(t0: Instant, msg: &str) {
    eprintln!("[stick {:>5.0} s] {msg}", t0.elapsed().as_secs_f64());
}

fn read(p: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned()
}

/// Starts `vm` on its own tap; a stick VM boots `usb` (a copy of the stick image) as a USB disk.
fn start(ns: &Netns, qemu: &Path, vm: &Vm, usb: Option<&Path>, dir: &Path, t0: Instant) -> Running {
    let tap = format!("tap-{}", vm.name);
    ns.exec_ok(&["ip", "tuntap", "add", "dev", &tap, "mode", "tap"]);
    ns.exec_ok(&["ip", "link", "set", &tap, "master", "br0", "up"]);
    let mut args = qemu_args(vm, &tap, dir);
    let mut monitor = None;
    if let Some(img) = usb {
        // The stick: qemu-xhci with usb-storage, first in the boot order; the NIC has no ROM, so
        // the firmware boots the stick or nothing. A VGA for tty1, and a monitor for the power
        // button.
        for a in args.iter_mut() {
            if a.contains(",bootindex=1") {
                *a = a.replace(",bootindex=1", ",romfile=");
                *a = a.replace(",romfile=,romfile=", ",romfile=");
            }
        }
        let mon = dir.join(format!("{}.monitor", vm.name));
        args.extend([
            "-device".to_owned(),
            "qemu-xhci,id=xhci".to_owned(),
            "-drive".to_owned(),
            format!("if=none,id=usbstick,format=raw,file={}", img.display()),
            "-device".to_owned(),
            "usb-storage,bus=xhci.0,drive=usbstick,bootindex=0".to_owned(),
            "-monitor".to_owned(),
            format!("unix:{},server,nowait", mon.display()),
        ]);
        if let Some(v) = args.iter().position(|a| a == "-vga")
            && let Some(x) = args.get_mut(v + 1)
        {
            *x = "std".into();
        }
        monitor = Some(mon);
    }
    let log = dir.join(format!("{}.serial.log", vm.name));
    let out = std::fs::File::create(dir.join(format!("{}.qemu.out", vm.name))).expect("qemu log");
    let child = ns
        .command(&[qemu.to_str().expect("qemu path")])
        .args(&args)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .spawn()
        .expect("qemu");
    let on_s = t0.elapsed().as_secs_f64();
    say(
        t0,
        &format!(
            "{} powered on ({}, {:?}, {}, BMC {})",
            vm.name,
            if usb.is_some() { "USB stick" } else { "PXE" },
            vm.firmware,
            vm.nic,
            vm.bmc
        ),
    );
    Running {
        story: Story {
            vm: vm.clone(),
            stick: usb.is_some(),
            on_s,
            serving_s: None,
            stored_s: None,
            off_s: None,
            announced: false,
            problems: Vec::new(),
        },
        child,
        log,
        tap,
        monitor,
    }
}

/// One command to QEMU's human monitor (keys, screendumps, the power button).
fn hmp(monitor: &Path, cmd: &str) -> std::io::Result<()> {
    let mut s = std::os::unix::net::UnixStream::connect(monitor)?;
    s.write_all(format!("{cmd}\n").as_bytes())?;
    std::thread::sleep(Duration::from_millis(300));
    Ok(())
}

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    false
}

/// The zeros a VM's own disk still holds: `Err` names the first octet that is not.
fn untouched(disk: &Path) -> Result<(), String> {
    let mut f = std::fs::File::open(disk).map_err(|e| format!("{}: {e}", disk.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(());
        }
        if let Some(i) = buf[..n].iter().position(|&b| b != 0) {
            return Err(format!("{} written at octet {}", disk.display(), at + i as u64));
        }
        at += n as u64;
    }
}

/// Two sticks whose agents start closer together than this elect the lower MAC whatever the
/// order (`machine::elect`: the DHCP probe's 4 s and the election's 10 s, less a margin for the
/// guests' clocks).
const ELECTION_WINDOW_S: f64 = 10.0;

/// When the agent started on a console, in the guest's seconds since boot (the kernel's
/// timestamp on the agent's first line); both sticks are powered on at once, so the difference
/// between two of these is about the difference between their agents' starts.
fn agent_started(log: &str) -> Option<f64> {
    let line = log.lines().find(|l| l.contains("agent::runtime::agent] agent: ") && l.contains(", BMC "))?;
    let (_, rest) = line.split_once('[')?;
    rest.split_once(']')?.0.trim().parse().ok()
}

/// Whether a second stick's console shows it became a peer of `master` by the election: it
/// concluded `master` serves, or heard `master` (or a master at an address) start serving while
/// it was still electing, and went on to fetch.
fn yielded_to(log: &str, master: &str) -> bool {
    let said = |l: &&str| {
        (l.contains(&format!("elected elect {master} serves")))
            || (l.contains("master-found elect ") && (l.contains(master) || l.contains(" serves")))
    };
    log.lines().any(|l| said(&l)) && log.contains("phase fetch from elect")
}

/// Runs the story. The namespace and every VM are gone when this returns, also on a panic.
pub fn run_stick(opts: &StickOpts) -> StickReport {
    let t0 = Instant::now();
    let qemu = program("qemu-system-x86_64", "qemu-system-x86");
    std::fs::create_dir_all(&opts.dir).expect("stick dir");
    let ns = Netns::new("recon-stick");
    ns.bridge("br0");
    let mut errors = Vec::new();

    // Each stick VM boots a copy: the image stays as built, the copy is what the host checks.
    let copy = |name: &str| {
        let to = opts.dir.join(format!("{name}.raw"));
        run(Command::new("cp").arg("--sparse=always").arg(&opts.image).arg(&to));
        to
    };
    // The master is the stick that serves: the first (the lower MAC) unless the second's agent
    // started well before it (see `ELECTION_WINDOW_S`); `running[0]` is the master from then on.
    let mut master_vm = stick_vm(1);
    let mut stick1 = copy("stick");
    let mut running = vec![start(&ns, &qemu, &master_vm, Some(&stick1), &opts.dir, t0)];
    let mut stick2 = None;
    if opts.second_stick {
        let img = copy("stick2");
        running.push(start(&ns, &qemu, &stick_vm(2), Some(&img), &opts.dir, t0));
        stick2 = Some(img);
    }
    let serving = |log: &str| log.contains("http: serving");
    let limit = |r: &Running| r.story.on_s + opts.timeout.as_secs_f64();

    let mut queue: std::collections::VecDeque<Vm> = peer_vms(opts.peers).into();
    let mut done: Vec<Story> = Vec::new();
    let mut master_serving = false;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = t0.elapsed().as_secs_f64();
        let sticks = if stick2.is_some() { 2 } else { 1 };
        if !master_serving
            && let Some(k) = (0..sticks).find(|&k| serving(&read(&running[k].log)))
            && k == 1
        {
            // The second stick serves: its agent started first, by more than the election's
            // window (boot jitter of two VMs on two TCG cores), or the election is broken.
            let (lower, higher) = (agent_started(&read(&running[0].log)), agent_started(&read(&running[1].log)));
            say(t0, &format!("stick2 serves: agents started at {higher:?} s (stick2) and {lower:?} s (stick)"));
            let early = lower.zip(higher).map(|(l, h)| l - h);
            if early.is_none_or(|e| e < ELECTION_WINDOW_S) {
                errors.push(format!(
                    "the higher MAC serves though its agent started only {early:?} s before the lower one's"
                ));
            }
            running.swap(0, 1);
            master_vm = stick_vm(2);
            if let Some(img) = stick2.as_mut() {
                std::mem::swap(img, &mut stick1);
            }
        }
        let mlog = read(&running[0].log);
        if !master_serving && serving(&mlog) {
            master_serving = true;
            running[0].story.serving_s = Some(now);
            say(t0, "the stick's agent elected itself and serves");
            for l in mlog
                .lines()
                .filter(|l| l.contains("master 10.") || l.contains("medium:") || l.contains("KEEPS NOTHING"))
            {
                say(t0, &format!("  stick: {}", l.trim()));
            }
        }
        if !master_serving && now > limit(&running[0]) {
            errors.push(format!(
                "the stick did not serve within {:?}; its console:\n{}",
                opts.timeout,
                tail(&running[0].log, 30)
            ));
            break;
        }
        // Peers, once the master serves.
        while master_serving && running.iter().filter(|r| !r.story.stick).count() < opts.parallel {
            let Some(vm) = queue.pop_front() else { break };
            running.push(start(&ns, &qemu, &vm, None, &opts.dir, t0));
        }
        // Every VM but the master: stored, done, powered off, or out of time.
        let mut i = 1;
        while i < running.len() {
            let r = &mut running[i];
            let mac = r.story.vm.mac_text();
            if r.story.stored_s.is_none() && mlog.contains(&format!("POST /api/v1/nodes/{mac}/inventory 201")) {
                r.story.stored_s = Some(now);
                say(
                    t0,
                    &format!("{}: inventory stored ({:.0} s after its power-on)", r.story.vm.name, now - r.story.on_s),
                );
            }
            if r.story.off_s.is_none()
                && let Ok(Some(_)) = r.child.try_wait()
            {
                r.story.off_s = Some(now);
                say(t0, &format!("{}: powered itself off", r.story.vm.name));
            }
            // The announcement itself, which the agent prints once its events reached the
            // master (its "done" event's log line has the same words and comes first).
            r.story.announced = crate::rack::said_done(&read(&r.log));
            let finished = r.story.off_s.is_some()
                || (r.story.stored_s.is_some() && r.story.announced && !r.story.vm.bmc)
                || r.story.stored_s.is_some_and(|t| now - t > 90.0)
                || now > limit(r);
            if finished {
                let mut r = running.remove(i);
                if r.story.off_s.is_none() {
                    // Up and done (no BMC): the operator switches it off.
                    let _ = r.child.kill();
                }
                let _ = r.child.wait();
                let _ = ns.command(&["ip", "link", "del", &r.tap]).status();
                let s = &mut r.story;
                if s.stored_s.is_none() {
                    s.problems.push(format!("no inventory stored; its console:\n{}", tail(&r.log, 25)));
                }
                if s.vm.bmc && s.off_s.is_none() {
                    s.problems.push("has a BMC but did not power off".into());
                }
                if !s.vm.bmc && s.off_s.is_some() {
                    s.problems.push("has no BMC but powered off".into());
                }
                if !s.vm.bmc && !s.announced {
                    s.problems.push("did not say it is done".into());
                }
                if s.stick && !yielded_to(&read(&r.log), &master_vm.mac_text()) {
                    s.problems.push(format!("the other stick did not yield to the master {}", master_vm.mac_text()));
                }
                done.push(r.story);
                continue;
            }
            i += 1;
        }
        if master_serving && queue.is_empty() && running.len() == 1 {
            break;
        }
    }

    // The operator finishes at the master's console: the board on tty1 (VGA), `f`, then `y`;
    // screenshots of the board before and after. If the board does not answer, the power button.
    let mut master = running.remove(0);
    let mon = master.monitor.clone();
    let monitor = |cmd: &str| mon.as_deref().map(|m| hmp(m, cmd));
    let shot = |name: &str| {
        let png = opts.dir.join(name);
        // QEMU 7.2's HMP: `screendump FILE [-f FORMAT]`.
        let _ = monitor(&format!("screendump {} -f png", png.display()));
        if !wait_until(Duration::from_secs(10), || png.exists()) {
            eprintln!("stick: no screenshot {} from QEMU's monitor", png.display());
        }
        png
    };
    let board_png = shot("board.png");
    say(t0, &format!("the master's console: {}", board_png.display()));
    let _ = monitor("sendkey f");
    std::thread::sleep(Duration::from_secs(3));
    shot("board-finish.png");
    let _ = monitor("sendkey y");
    let pressed = Instant::now();
    let safe = |log: &str| log.contains("SAFE TO REMOVE THE STICK");
    if !wait_until(Duration::from_secs(180), || safe(&read(&master.log))) {
        master.story.problems.push(format!(
            "the board's finish did not say the stick is safe to remove within 180 s; its console:\n{}",
            tail(&master.log, 25)
        ));
        say(t0, "no finish from the board: pressing the power button");
        let _ = monitor("system_powerdown");
    } else {
        say(
            t0,
            &format!(
                "finished at the console: {}",
                read(&master.log).lines().find(|l| safe(l)).unwrap_or_default().trim()
            ),
        );
        shot("board-finished.png");
    }
    while pressed.elapsed() < Duration::from_secs(300) {
        if let Ok(Some(_)) = master.child.try_wait() {
            master.story.off_s = Some(t0.elapsed().as_secs_f64());
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    match master.story.off_s {
        Some(t) => say(
            t0,
            &format!(
                "the master powered off ({:.0} s after the finish key)",
                t - pressed.duration_since(t0).as_secs_f64()
            ),
        ),
        None => {
            master
                .story
                .problems
                .push(format!("did not power off within 300 s of the finish; its console:\n{}", tail(&master.log, 25)));
            let _ = master.child.kill();
            let _ = master.child.wait();
        }
    }
    let mlog = read(&master.log);
    if !mlog.contains("mounted on /var/lib/recon") {
        master.story.problems.push("the agent did not mount RECONDATA".into());
    }
    if !mlog.contains("the master's own inventory is stored") {
        master.story.problems.push("the master did not store its own inventory".into());
    }
    drop(ns);

    // What the stick holds.
    let mut all: Vec<Story> = vec![master.story];
    all.extend(done);
    let mut check_lines = Vec::new();
    match recondata(&stick1, &opts.dir.join("recondata")) {
        Ok(found) => {
            check_lines.extend(found.notes);
            for st in &mut all {
                let mac = st.vm.mac_text();
                let path = opts.dir.join("recondata/nodes").join(mac.replace(':', "-")).join("inventory.json");
                match std::fs::read(&path).ok().and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok()) {
                    Some(inv) => {
                        let mut bad = check(&st.vm, &inv);
                        // Nodes booted from their own medium have no PXE boot NIC.
                        if st.stick {
                            bad.retain(|b| !b.starts_with("boot NIC"));
                        }
                        let disks: Vec<&str> = inv["storage"]["disks"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|d| d["serial"].as_str())
                            .collect();
                        check_lines.push(format!(
                            "{:<7} {mac}  serial {}  uuid {}  disks {}: {}",
                            st.vm.name,
                            inv["system"]["serial"].as_str().unwrap_or("-"),
                            inv["system"]["uuid"].as_str().unwrap_or("-"),
                            disks.join(","),
                            if bad.is_empty() {
                                "as on its QEMU command line".to_owned()
                            } else {
                                format!("MISMATCH {}", bad.join("; "))
                            }
                        ));
                        st.problems.extend(bad);
                    }
                    None => {
                        check_lines.push(format!("{:<7} {mac}  NO INVENTORY on RECONDATA", st.vm.name));
                        st.problems.push("no inventory on RECONDATA".into());
                    }
                }
            }
        }
        Err(e) => errors.push(format!("RECONDATA: {e}")),
    }
    let data = opts.dir.join("recondata");
    if data.join("nodes").is_dir() {
        errors.extend(reports_hold(&data, &all));
        match agent::load_data(&data, 90_000) {
            Ok((view, _)) => {
                // Every node finished: none stuck, none still on its way.
                for n in view.nodes.iter().filter(|n| n.state != "done") {
                    errors.push(format!("RECONDATA's fleet has {} {}: {}", n.mac, n.state, n.status));
                }
                check_lines.push("the fleet on RECONDATA, as the board and recon report show it:".into());
                check_lines.extend(agent::report::table::table(&view, 100).lines().map(|l| format!("  {l}")));
            }
            Err(e) => errors.push(format!("reading RECONDATA's node files: {e}")),
        }
    }
    // Nothing on the nodes' own disks is touched.
    for st in &mut all {
        for d in ["nvme", "sata"] {
            if let Err(e) = untouched(&opts.dir.join(format!("{}.{d}.img", st.vm.name))) {
                st.problems.push(format!("its own disk was written: {e}"));
            }
        }
    }
    StickReport { stories: all, check: check_lines, total_s: t0.elapsed().as_secs_f64(), errors }
}

/// What is wrong with the reports the master wrote on RECONDATA at its finish: report.html and
/// inventory.csv name every node's serial, each node has its Ironic file, NetBox's devices.csv
/// has a row per node.
fn reports_hold(data: &Path, stories: &[Story]) -> Vec<String> {
    let mut bad = Vec::new();
    let html = std::fs::read_to_string(data.join("report.html")).unwrap_or_default();
    let csv = std::fs::read_to_string(data.join("inventory.csv")).unwrap_or_default();
    let devices = std::fs::read_to_string(data.join("netbox/devices.csv")).unwrap_or_default();
    for st in stories {
        let serial = &st.vm.serial;
        for (name, text) in [("report.html", &html), ("inventory.csv", &csv), ("netbox/devices.csv", &devices)] {
            if !text.contains(serial.as_str()) {
                bad.push(format!("{name} on RECONDATA does not name {} ({serial})", st.vm.name));
            }
        }
        let ironic = data.join("ironic").join(format!("{}.json", st.vm.mac_text().replace(':', "-")));
        if !ironic.is_file() {
            bad.push(format!("no {} on RECONDATA", ironic.strip_prefix(data).unwrap_or(&ironic).display()));
        }
    }
    bad
}

/// What the check of RECONDATA found.
struct Found {
    notes: Vec<String>,
}

/// Opens the RECONDATA partition of a stick image read-only (a read-only loop device), checks
/// its filesystem is clean, and copies its files to `out` with debugfs (nothing is mounted).
fn recondata(image: &Path, out: &Path) -> Result<Found, String> {
    let (offset, size) = data_partition(image)?;
    let o = Command::new("losetup")
        .args(["--read-only", "--find", "--show", "--offset", &offset.to_string(), "--sizelimit", &size.to_string()])
        .arg(image)
        .output()
        .map_err(|e| format!("losetup: {e}"))?;
    if !o.status.success() {
        return Err(format!("losetup: {}", String::from_utf8_lossy(&o.stderr)));
    }
    let dev = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    let result = (|| {
        let mut notes = vec![format!("partition at octet {offset}, {} MiB, on {dev} (read-only)", size >> 20)];
        let head = Command::new("dumpe2fs").args(["-h", &dev]).output().map_err(|e| e.to_string())?;
        let head = String::from_utf8_lossy(&head.stdout).into_owned();
        let field = |name: &str| {
            head.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned())).unwrap_or_default()
        };
        notes.push(format!(
            "label {:?}, state {:?}, last mounted {:?}, mount count {}",
            field("Filesystem volume name:"),
            field("Filesystem state:"),
            field("Last mount time:"),
            field("Mount count:")
        ));
        if field("Filesystem state:") != "clean" {
            return Err(format!("the filesystem is not clean: {:?}", field("Filesystem state:")));
        }
        if field("Last mount time:") == "n/a" {
            return Err("RECONDATA was never mounted".into());
        }
        let fsck = Command::new("e2fsck").args(["-fn", &dev]).output().map_err(|e| e.to_string())?;
        let code = fsck.status.code().unwrap_or(-1);
        notes.push(format!("e2fsck -fn: exit {code}{}", if code == 0 { " (clean)" } else { "" }));
        if code != 0 {
            return Err(format!("e2fsck -fn found problems:\n{}", String::from_utf8_lossy(&fsck.stdout)));
        }
        let _ = std::fs::remove_dir_all(out);
        std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
        let dump = Command::new("debugfs")
            .args(["-R", &format!("rdump / {}", out.display()), &dev])
            .output()
            .map_err(|e| e.to_string())?;
        if !dump.status.success() {
            return Err(format!("debugfs: {}", String::from_utf8_lossy(&dump.stderr)));
        }
        let nodes: Vec<String> = std::fs::read_dir(out.join("nodes"))
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        notes.push(format!("{} node directories: {}", nodes.len(), nodes.join(" ")));
        Ok(Found { notes })
    })();
    let _ = Command::new("losetup").args(["--detach", &dev]).status();
    result
}

/// The stick image's RECONDATA partition: (offset, size) in octets, from the partition table
/// (sfdisk) and the ext4 superblock's label.
fn data_partition(image: &Path) -> Result<(u64, u64), String> {
    let o = Command::new("sfdisk").arg("--json").arg(image).output().map_err(|e| format!("sfdisk: {e}"))?;
    let table: serde_json::Value = serde_json::from_slice(&o.stdout).map_err(|e| format!("sfdisk --json: {e}"))?;
    let sector = table["partitiontable"]["sectorsize"].as_u64().unwrap_or(512);
    let mut f = std::fs::File::open(image).map_err(|e| e.to_string())?;
    for p in table["partitiontable"]["partitions"].as_array().into_iter().flatten() {
        let (Some(start), Some(size)) = (p["start"].as_u64(), p["size"].as_u64()) else { continue };
        let mut sb = [0u8; 2048];
        if f.seek(SeekFrom::Start(start * sector)).is_err() || f.read_exact(&mut sb).is_err() {
            continue;
        }
        let magic = sb[1024 + 0x38..1024 + 0x3a] == [0x53, 0xef];
        let label = String::from_utf8_lossy(&sb[1024 + 0x78..1024 + 0x88]).trim_end_matches('\0').to_owned();
        if magic && label == "RECONDATA" {
            return Ok((start * sector, size * sector));
        }
    }
    Err(format!("no RECONDATA partition in {}", image.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_agents_start_is_read_off_its_console() {
        // From a stick run whose second stick's agent started 22.5 s before the first's.
        let log = "M\u{1b}[K[  OK  ] Finished recon-boot-files.\n\
                   [  182.262948] recon[743]: [INFO  agent::runtime::agent] agent: 0.1.0 on ens3 \
                   (52:54:00:5c:00:01), BMC absent\n\
                   [  182.265853] recon[743]: [INFO  agent::runtime::agent] agent: phase probe\n";
        assert_eq!(super::agent_started(log), Some(182.262948));
        assert_eq!(super::agent_started("[  1.0] kernel: hello\n"), None);
    }

    #[test]
    fn a_second_stick_yields_however_it_heard_of_the_master() {
        let m = "52:54:00:5c:00:01";
        let elected = "agent: elected elect 52:54:00:5c:00:01 serves\nagent: phase fetch from elect";
        let starting =
            "agent: master-found elect 52:54:00:5c:00:01 is starting to serve\nagent: phase fetch from elect";
        let serving = "agent: master-found elect 10.213.0.1 serves\nagent: phase fetch from elect";
        for log in [elected, starting, serving] {
            assert!(super::yielded_to(log, m), "{log}");
        }
        assert!(!super::yielded_to(
            "agent: elected elect lowest MAC: this node serves\nagent: phase serve from elect",
            m
        ));
        assert!(!super::yielded_to(
            "agent: master-found elect 52:54:00:5c:00:03 is starting to serve\nagent: phase fetch from elect",
            m
        ));
    }
}
