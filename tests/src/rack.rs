//! The virtual rack: a network namespace with a bridge, `recon serve` on it, and QEMU VMs with
//! distinct virtual hardware that PXE-boot from it, inventory themselves, upload, and power off
//! when they have a BMC. What counts is what the master stored: each VM's inventory must hold
//! the serials, MACs, disks and CPU counts the VM was started with.
//!
//! Network safety: the bridge, the taps and every server live in a namespace made here, with
//! 10.213.7.0/24 only there; QEMU uses tap devices in that namespace, never user-mode
//! networking. Every VM has a time limit; every process is stopped by PID.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Netns, Proc, recon_bin, run, wait_for};

/// The master's address on the rack's bridge.
pub const MASTER: &str = "10.213.7.1";
/// The foreign DHCP server's address, when there is one (RackOpts::foreign_dhcp).
const FOREIGN: &str = "10.213.7.2/24";

/// Firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    /// SeaBIOS with QEMU's iPXE option ROM.
    Bios,
    /// OVMF with its own PXE, which fetches ipxe.efi over TFTP.
    Uefi,
}

/// Which peer path the master's boot.ipxe gives the VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerPath {
    /// The agent runs in the dracut initramfs; no ISO.
    Fast,
    /// dracut fetches the live ISO; the agent runs in the live root.
    Full,
}

/// One VM's virtual hardware.
#[derive(Debug, Clone)]
pub struct Vm {
    /// VM name (also its tap and log names).
    pub name: String,
    /// The NIC's MAC.
    pub mac: [u8; 6],
    /// BIOS or UEFI.
    pub firmware: Firmware,
    /// Which peer path the master gives it.
    pub path: PeerPath,
    /// QEMU NIC model.
    pub nic: &'static str,
    /// An emulated BMC (ipmi-bmc-sim on KCS).
    pub bmc: bool,
    /// CPU sockets.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
    /// Memory, MiB.
    pub mem_mb: u32,
    /// SMBIOS system serial.
    pub serial: String,
    /// SMBIOS system UUID.
    pub uuid: String,
    /// The NVMe disk's serial.
    pub nvme_serial: String,
    /// The SATA disk's serial.
    pub sata_serial: String,
}

impl Vm {
    /// The MAC as `aa:bb:...`.
    pub fn mac_text(&self) -> String {
        self.mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
    }

    /// Logical CPUs.
    pub fn cpus(&self) -> u32 {
        self.sockets * self.cores * self.threads
    }
}

/// The rack's VMs: BIOS and UEFI, both peer paths, virtio and e1000, with and without a BMC,
/// different topologies and memory sizes.
pub fn default_vms(n: usize) -> Vec<Vm> {
    (0..n)
        .map(|i| {
            let k = i as u8 + 1;
            let uefi = i % 2 == 1;
            Vm {
                name: format!("vm{k}"),
                mac: [0x52, 0x54, 0x00, 0x7e, 0x00, k],
                firmware: if uefi { Firmware::Uefi } else { Firmware::Bios },
                path: if i % 4 < 2 { PeerPath::Fast } else { PeerPath::Full },
                // OVMF has no e1000 driver of its own: UEFI VMs use virtio.
                nic: if uefi || i % 4 == 2 { "virtio-net-pci" } else { "e1000" },
                bmc: i % 2 == 0,
                sockets: 1 + (i % 2) as u32,
                cores: 1 + (i % 3 == 2) as u32,
                threads: 1,
                mem_mb: 768 + 128 * (i % 3) as u32,
                serial: format!("RACK-SN-{k:03}"),
                uuid: format!("7ec0{k:04x}-0000-4000-8000-0000000000{k:02x}"),
                nvme_serial: format!("NVME-{k:03}"),
                sata_serial: format!("SATA-{k:03}"),
            }
        })
        .collect()
}

/// What happened to one VM.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The VM.
    pub vm: Vm,
    /// Seconds from start to the stored inventory.
    pub inventory_s: Option<f64>,
    /// The VM powered itself off (QEMU exited by itself), after this many seconds.
    pub powered_off_s: Option<f64>,
    /// The VM said it was done and stays up.
    pub announced_done: bool,
    /// What differs between the VM's hardware and its stored inventory.
    pub mismatches: Vec<String>,
    /// The master's inventory file.
    pub inventory: Option<serde_json::Value>,
}

/// The whole run.
#[derive(Debug)]
pub struct Report {
    /// Per VM, by name.
    pub outcomes: Vec<Outcome>,
    /// Wall time of the whole rack.
    pub total_s: f64,
    /// The master's peak resident set seen while polling, KiB.
    pub master_rss_kb: Option<u64>,
    /// What went wrong beyond single VMs (with a foreign DHCP server: recon handing out
    /// addresses, or not noticing the other server).
    pub errors: Vec<String>,
    /// The master's fleet as `recon board` and report.html show it (the agent's own table code,
    /// from `GET /api/v1/fleet` at the end of the run).
    pub fleet: Option<String>,
}

impl Report {
    /// Whether every VM's inventory matched and BMC VMs powered off while the others stayed up.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
            && self.outcomes.iter().all(|o| {
                o.inventory.is_some()
                    && o.mismatches.is_empty()
                    && (o.vm.bmc == o.powered_off_s.is_some())
                    && (o.vm.bmc || o.announced_done)
            })
    }

    /// The master's fleet table (as its board shows it), then the rack's check of each VM.
    pub fn table(&self) -> String {
        let mut s = String::new();
        if let Some(f) = &self.fleet {
            s.push_str("the master's fleet (recon board):\n");
            s.push_str(f);
            s.push_str("\n\nthe rack's checks against each VM's QEMU command line:\n");
        }
        s.push_str("vm    fw    path  nic             bmc  serial        cpus  mem     disks  inventory  end\n");
        for o in &self.outcomes {
            let inv = o.inventory.as_ref();
            let cpus = inv.and_then(|i| i["cpu"]["logical_cpus"].as_u64()).map(|c| c.to_string()).unwrap_or("-".into());
            let mem = inv
                .and_then(|i| i["memory"]["usable_bytes"].as_u64())
                .map(|b| format!("{} MiB", b >> 20))
                .unwrap_or("-".into());
            let disks =
                inv.and_then(|i| i["storage"]["disks"].as_array()).map(|d| d.len().to_string()).unwrap_or("-".into());
            let end = match (o.powered_off_s, o.announced_done) {
                (Some(t), _) => format!("off at {t:.0} s"),
                (None, true) => "up, done".into(),
                _ => "?".into(),
            };
            s.push_str(&format!(
                "{:<5} {:<5} {:<5} {:<15} {:<4} {:<13} {:<5} {:<7} {:<6} {:<10} {}\n",
                o.vm.name,
                if o.vm.firmware == Firmware::Uefi { "uefi" } else { "bios" },
                if o.vm.path == PeerPath::Fast { "fast" } else { "full" },
                o.vm.nic,
                if o.vm.bmc { "yes" } else { "no" },
                inv.and_then(|i| i["system"]["serial"].as_str()).unwrap_or("-"),
                cpus,
                mem,
                disks,
                o.inventory_s.map(|t| format!("{t:.0} s")).unwrap_or("missing".into()),
                end
            ));
            for m in &o.mismatches {
                s.push_str(&format!("      MISMATCH {m}\n"));
            }
        }
        s.push_str(&format!("{} VMs in {:.0} s", self.outcomes.len(), self.total_s));
        if let Some(rss) = self.master_rss_kb {
            s.push_str(&format!("; master RSS {rss} KiB"));
        }
        for e in &self.errors {
            s.push_str(&format!("\nrack: {e}"));
        }
        s
    }
}

/// What the master's timeline for the VM lacks: the agent's every phase once, posted by the agent,
/// ending with the power-off (BMC VMs) or the "done" (the others) that follows the 201.
pub fn check_timeline(vm: &Vm, jsonl: &str) -> Vec<String> {
    let events: Vec<serde_json::Value> = jsonl.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let count = |kind: &str, phase: &str| {
        events.iter().filter(|e| e["kind"] == kind && (phase.is_empty() || e["phase"] == phase)).count()
    };
    let has = |kind: &str, phase: &str| count(kind, phase) > 0;
    let mut out = Vec::new();
    for phase in ["probe", "fetch", "inventory", "upload", "poweroff"] {
        match count("agent-phase", phase) {
            0 => out.push(format!("timeline: no agent-phase {phase}")),
            1 => {}
            n => out.push(format!("timeline: agent-phase {phase} {n} times")),
        }
    }
    let last = if vm.bmc { "agent-poweroff" } else { "agent-done" };
    if !has(last, "poweroff") {
        out.push(format!("timeline: no {last} event"));
    }
    if !events.iter().any(|e| e["kind"] == "inventory") {
        out.push("timeline: no inventory stored event".into());
    }
    out
}

/// Compares a stored inventory with the VM's hardware.
pub fn check(vm: &Vm, inv: &serde_json::Value) -> Vec<String> {
    let mut bad = Vec::new();
    let mut eq = |what: &str, got: Option<String>, want: String| {
        if got.as_deref() != Some(want.as_str()) {
            bad.push(format!("{what}: stored {got:?}, VM has {want:?}"));
        }
    };
    let s = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    eq("system serial", s(&inv["system"]["serial"]), vm.serial.clone());
    eq("system uuid", s(&inv["system"]["uuid"]), vm.uuid.clone());
    eq("logical cpus", inv["cpu"]["logical_cpus"].as_u64().map(|c| c.to_string()), vm.cpus().to_string());
    eq("sockets", inv["cpu"]["sockets"].as_u64().map(|c| c.to_string()), vm.sockets.to_string());
    let macs: Vec<String> = inv["network"].as_array().into_iter().flatten().filter_map(|n| s(&n["mac"])).collect();
    if !macs.contains(&vm.mac_text()) {
        bad.push(format!("NIC {} not in {macs:?}", vm.mac_text()));
    }
    let boot: Vec<String> = inv["network"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["boot"] == true)
        .filter_map(|n| s(&n["mac"]))
        .collect();
    if boot != [vm.mac_text()] {
        bad.push(format!("boot NIC {boot:?}, VM booted from {}", vm.mac_text()));
    }
    let serials: Vec<String> =
        inv["storage"]["disks"].as_array().into_iter().flatten().filter_map(|d| s(&d["serial"])).collect();
    for want in [&vm.nvme_serial, &vm.sata_serial] {
        if !serials.contains(want) {
            bad.push(format!("disk serial {want} not in {serials:?}"));
        }
    }
    let mem = inv["memory"]["usable_bytes"].as_u64().unwrap_or(0) >> 20;
    // MemTotal is the VM's memory less what the kernel keeps for itself.
    if mem == 0 || mem > u64::from(vm.mem_mb) || mem < u64::from(vm.mem_mb) * 3 / 4 {
        bad.push(format!("usable memory {mem} MiB for a {} MiB VM", vm.mem_mb));
    }
    if inv["bmc"]["present"].as_bool() != Some(vm.bmc) {
        bad.push(format!("bmc present {:?}, VM has {}", inv["bmc"]["present"], vm.bmc));
    }
    bad
}

/// Options.
#[derive(Debug, Clone)]
pub struct RackOpts {
    /// Where the boot files are (tests/rack/build-boot.sh's output).
    pub boot: PathBuf,
    /// Scratch directory: master data, VM logs, disks.
    pub dir: PathBuf,
    /// VMs at once (2 on 2 cores).
    pub parallel: usize,
    /// Per VM.
    pub timeout: Duration,
    /// Print progress.
    pub progress: bool,
    /// A foreign DHCP server (dnsmasq, addresses only, no PXE) shares the segment, and recon
    /// serves with `--dhcp proxy` (`auto` would serve no DHCP there): it must hand out no address
    /// and boot the VMs by proxy.
    pub foreign_dhcp: bool,
    /// More kernel arguments for every VM, after the master's own (`recon serve --append`).
    pub append: String,
}

struct Running {
    vm: Vm,
    child: Child,
    started: Instant,
    inventory_s: Option<f64>,
    exited_s: Option<f64>,
    log: PathBuf,
}

fn say(opts: &RackOpts, t0: Instant, msg: &str) {
    if opts.progress {
        eprintln!("[rack {:>5.0} s] {msg}", t0.elapsed().as_secs_f64());
    }
}

/// QEMU's arguments for `vm` on tap `tap`, its disks and logs in `dir`: TCG, two serial ports
/// (ttyS0, the firmware's and the kernel's early messages, to `<name>.ttyS0.log`; ttyS1, the
/// console the seed's arguments name, to `<name>.serial.log`), the VM's SMBIOS values, NIC,
/// NVMe and SATA disks (64 MiB of zeros each), a BMC when it has one, OVMF for UEFI.
pub fn qemu_args(vm: &Vm, tap: &str, dir: &Path) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| (*s).to_owned()));
    let log = dir.join(format!("{}.serial.log", vm.name));
    let early = dir.join(format!("{}.ttyS0.log", vm.name));
    let nvme = dir.join(format!("{}.nvme.img", vm.name));
    let sata = dir.join(format!("{}.sata.img", vm.name));
    for d in [&nvme, &sata] {
        let f = std::fs::File::create(d).expect("disk image");
        f.set_len(64 << 20).expect("disk size");
    }
    // One TCG thread per VM: multi-threaded TCG (QEMU 7.2) lost idle vCPUs' timer wakeups and
    // hung SMP guests (tests/cross-check/guest.sh), and the rack runs two VMs on two cores anyway.
    push(&["-name", &vm.name, "-accel", "tcg,thread=single", "-machine", "pc", "-m", &vm.mem_mb.to_string()]);
    push(&["-smp", &format!("{},sockets={},cores={},threads={}", vm.cpus(), vm.sockets, vm.cores, vm.threads)]);
    push(&["-nodefaults", "-display", "none", "-vga", "none", "-no-reboot"]);
    push(&["-serial", &format!("file:{}", early.display()), "-serial", &format!("file:{}", log.display())]);
    push(&[
        "-smbios",
        &format!("type=1,manufacturer=Recon Rack,product=Virtual Node,serial={},uuid={}", vm.serial, vm.uuid),
    ]);
    push(&["-smbios", &format!("type=2,manufacturer=Recon Rack,product=VB-1,serial=BOARD-{}", vm.serial)]);
    push(&["-smbios", &format!("type=3,manufacturer=Recon Rack,serial=CHASSIS-{}", vm.serial)]);
    push(&["-netdev", &format!("tap,id=n0,ifname={tap},script=no,downscript=no")]);
    let rom = if vm.firmware == Firmware::Uefi { ",romfile=" } else { "" };
    push(&["-device", &format!("{},netdev=n0,mac={},bootindex=1{rom}", vm.nic, vm.mac_text())]);
    push(&["-drive", &format!("file={},if=none,id=nv0,format=raw", nvme.display())]);
    push(&["-device", &format!("nvme,serial={},drive=nv0", vm.nvme_serial)]);
    push(&["-device", "ahci,id=ahci0"]);
    push(&["-drive", &format!("file={},if=none,id=sd0,format=raw", sata.display())]);
    push(&["-device", &format!("ide-hd,drive=sd0,bus=ahci0.0,serial={}", vm.sata_serial)]);
    if vm.bmc {
        push(&["-device", "ipmi-bmc-sim,id=bmc0", "-device", "isa-ipmi-kcs,bmc=bmc0"]);
    }
    if vm.firmware == Firmware::Uefi {
        let vars = dir.join(format!("{}.vars.fd", vm.name));
        std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars).expect("OVMF vars (apt-get install ovmf)");
        push(&["-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"]);
        push(&["-drive", &format!("if=pflash,format=raw,file={}", vars.display())]);
    }
    a
}

/// Runs the rack. The caller holds nothing: the namespace, the master and every VM are gone
/// when this returns, also on a panic.
pub fn run_rack(vms: &[Vm], opts: &RackOpts) -> Report {
    let t0 = Instant::now();
    let qemu = crate::program("qemu-system-x86_64", "qemu-system-x86");
    std::fs::create_dir_all(&opts.dir).expect("rack dir");
    let ns = Netns::new("recon-rack");
    ns.bridge("br0");
    let data = opts.dir.join("data");
    // The foreign server: dnsmasq in a namespace of its own, on the same bridge, handing out
    // addresses and nothing for PXE.
    let foreign_ns = opts.foreign_dhcp.then(|| {
        let other = Netns::new("recon-rack-dhcp");
        crate::veth(&other, "eth0", &ns, "foreign");
        ns.exec_ok(&["ip", "link", "set", "foreign", "master", "br0"]);
        other.exec_ok(&["ip", "addr", "add", FOREIGN, "dev", "eth0"]);
        other
    });
    let _foreign: Option<Proc> = foreign_ns
        .as_ref()
        .map(|other| crate::foreign_dnsmasq(other, "eth0", "10.213.7.200,10.213.7.240,255.255.255.0,1h", &opts.dir));
    let mut argv: Vec<String> = vec![
        recon_bin().to_string_lossy().into_owned(),
        "serve".into(),
        "--interface".into(),
        "br0".into(),
        "--address".into(),
        format!("{MASTER}/24"),
        "--boot".into(),
        opts.boot.to_string_lossy().into_owned(),
        "--data".into(),
        data.to_string_lossy().into_owned(),
        "--dhcp".into(),
        if opts.foreign_dhcp { "proxy" } else { "full" }.into(),
        "--append".into(),
        format!("panic=5 {}", opts.append).trim_end().to_owned(),
    ];
    for vm in vms.iter().filter(|v| v.path == PeerPath::Fast) {
        argv.push("--fast-path".into());
        argv.push(vm.mac_text());
    }
    let argv_ref: Vec<&str> = argv.iter().map(String::as_str).collect();
    let master_log = opts.dir.join("master.log");
    let master: Proc = ns.spawn(&argv_ref, &master_log);
    assert!(
        wait_for(Duration::from_secs(30), || std::fs::read_to_string(&master_log)
            .is_ok_and(|l| l.contains("http: serving"))),
        "recon serve did not start: {}",
        std::fs::read_to_string(&master_log).unwrap_or_default()
    );
    say(
        opts,
        t0,
        &format!("master up on {MASTER} (pid {}), {} VMs, {} at a time", master.pid(), vms.len(), opts.parallel),
    );

    let mut queue: VecDeque<Vm> = vms.iter().cloned().collect();
    let mut running: Vec<Running> = Vec::new();
    let mut outcomes = Vec::new();
    let mut master_rss_kb = None;
    let inventory_path = |vm: &Vm| data.join("nodes").join(vm.mac_text().replace(':', "-")).join("inventory.json");
    loop {
        while running.len() < opts.parallel {
            let Some(vm) = queue.pop_front() else { break };
            let tap = format!("tap-{}", vm.name);
            ns.exec_ok(&["ip", "tuntap", "add", "dev", &tap, "mode", "tap"]);
            ns.exec_ok(&["ip", "link", "set", &tap, "master", "br0", "up"]);
            let args = qemu_args(&vm, &tap, &opts.dir);
            let log = opts.dir.join(format!("{}.serial.log", vm.name));
            let out = std::fs::File::create(opts.dir.join(format!("{}.qemu.out", vm.name))).expect("qemu log");
            let child = ns
                .command(&[qemu.to_str().unwrap()])
                .args(&args)
                .stdin(Stdio::null())
                .stdout(out.try_clone().expect("log"))
                .stderr(out)
                .spawn()
                .expect("qemu");
            say(
                opts,
                t0,
                &format!("{} started ({:?}, {:?} path, {}, BMC {})", vm.name, vm.firmware, vm.path, vm.nic, vm.bmc),
            );
            running.push(Running { vm, child, started: Instant::now(), inventory_s: None, exited_s: None, log });
        }
        if running.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
        if let Some(rss) = rss_kb(master.pid()) {
            master_rss_kb = Some(master_rss_kb.unwrap_or(0).max(rss));
        }
        let mut i = 0;
        while i < running.len() {
            let r = &mut running[i];
            let el = r.started.elapsed().as_secs_f64();
            if r.inventory_s.is_none() && inventory_path(&r.vm).exists() {
                r.inventory_s = Some(el);
                say(opts, t0, &format!("{}: inventory stored after {el:.0} s", r.vm.name));
            }
            if r.exited_s.is_none()
                && let Ok(Some(_)) = r.child.try_wait()
            {
                r.exited_s = Some(el);
                say(opts, t0, &format!("{}: powered off after {el:.0} s", r.vm.name));
            }
            let announced = std::fs::read_to_string(&r.log).is_ok_and(|l| said_done(&l));
            // The agent logs its "done" event (with the same words) before the event's POST
            // lands at the master: a VM that stays up is done once its timeline is whole too.
            let timeline_whole = || {
                let t = std::fs::read_to_string(inventory_path(&r.vm).with_file_name("events.jsonl"));
                check_timeline(&r.vm, &t.unwrap_or_default()).is_empty()
            };
            // Done: powered off; or inventory stored, the VM said it stays up and its timeline
            // is whole (else the 60 s grace, which also lets a BMC VM finish powering off); or
            // out of time.
            let finished = r.exited_s.is_some()
                || (r.inventory_s.is_some() && announced && !r.vm.bmc && timeline_whole())
                || (r.inventory_s.is_some_and(|t| el - t > 60.0))
                || el > opts.timeout.as_secs_f64();
            if finished {
                let mut r = running.swap_remove(i);
                if r.exited_s.is_none() {
                    let _ = r.child.kill();
                }
                let _ = r.child.wait();
                let _ = ns.command(&["ip", "link", "del", &format!("tap-{}", r.vm.name)]).status();
                let inventory = std::fs::read(inventory_path(&r.vm)).ok().and_then(|b| serde_json::from_slice(&b).ok());
                let mut mismatches = match &inventory {
                    Some(inv) => check(&r.vm, inv),
                    None => vec![format!("no inventory stored within {:.0} s", el)],
                };
                let timeline = std::fs::read_to_string(inventory_path(&r.vm).with_file_name("events.jsonl"));
                mismatches.extend(check_timeline(&r.vm, &timeline.unwrap_or_default()));
                if r.inventory_s.is_none() {
                    say(opts, t0, &format!("{}: no inventory; serial log tail:\n{}", r.vm.name, tail(&r.log, 15)));
                }
                outcomes.push(Outcome {
                    vm: r.vm.clone(),
                    inventory_s: r.inventory_s,
                    powered_off_s: r.exited_s,
                    announced_done: announced,
                    mismatches,
                    inventory,
                });
                continue;
            }
            i += 1;
        }
    }
    let fleet = fleet_table(&ns, &format!("http://{MASTER}"));
    drop(master);
    drop(_foreign);
    drop(foreign_ns);
    drop(ns);
    let mut errors = Vec::new();
    if opts.foreign_dhcp {
        let leases = std::fs::read_to_string(data.join("leases.jsonl")).unwrap_or_default();
        if leases.contains("bind") {
            errors.push(format!("recon handed out addresses beside a foreign server: {leases}"));
        }
    }
    outcomes.sort_by(|a, b| a.vm.name.cmp(&b.vm.name));
    // The operator's view must agree with what the rack saw: every stored node, by its serial.
    match &fleet {
        None => errors.push("the master's GET /api/v1/fleet gave no fleet view".to_owned()),
        Some(f) => {
            for o in &outcomes {
                if let Some(serial) = o.inventory.as_ref().and_then(|i| i["system"]["serial"].as_str())
                    && !f.lines().any(|l| l.contains(serial) && (l.contains("done") || l.contains("powered off")))
                {
                    errors.push(format!("the fleet table shows {} ({serial}) as not done", o.vm.name));
                }
            }
        }
    }
    Report { outcomes, total_s: t0.elapsed().as_secs_f64(), master_rss_kb, errors, fleet }
}

/// The fleet table from a master's `GET /api/v1/fleet`, fetched with curl inside `ns`, drawn by
/// the agent's own table code (the board's and report's), 100 columns wide.
pub fn fleet_table(ns: &Netns, url: &str) -> Option<String> {
    let out = ns.command(&["curl", "-sS", "--max-time", "10", &format!("{url}/api/v1/fleet")]).output().ok()?;
    let view: agent::serve::fleet::FleetView = serde_json::from_slice(&out.stdout).ok()?;
    Some(agent::report::table::table(&view, 100))
}

/// The last `n` lines of a file.
pub fn tail(p: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A process's resident set, KiB (VmRSS).
pub fn rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Builds the boot files with tests/rack/build-boot.sh into `out`.
pub fn build_boot(out: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("rack/build-boot.sh");
    run(Command::new(script).arg(out));
}

/// Whether a console log has the agent's own announcement, "recon: inventory acknowledged by
/// ...; done, safe to power off" (printed bare, or as journald forwards it, `recon[PID]: recon:
/// ...`), which comes after its last events reached the master; not its log line of the "done"
/// event, which has the same words but is written before that event is posted.
pub fn said_done(log: &str) -> bool {
    log.lines().any(|l| {
        let l = l.trim_start();
        (l.starts_with("recon: ") || l.contains("]: recon: ")) && l.contains("done, safe to power off")
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_announcement_counts_and_the_done_events_log_line_does_not() {
        // From a stick run: the event's line is logged before its POST; the announcement after.
        let event = "[  225.103567] recon[869]: [INFO  agent::runtime::agent] agent: done poweroff recon: \
                     inventory acknowledged by 10.213.0.1; done, safe to power off";
        assert!(!super::said_done(event));
        let forwarded =
            "[  203.698949] recon[740]: recon: inventory acknowledged by 10.213.0.1; done, safe to power off";
        assert!(super::said_done(&format!("{event}\n{forwarded}")));
        assert!(super::said_done("\nrecon: inventory acknowledged by 10.213.0.1; done, safe to power off\n"));
    }
}
