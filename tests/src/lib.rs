//! Helpers for recon's end-to-end tests: network namespaces the test creates and removes,
//! veth links between them, and processes started inside them that are stopped by PID when the
//! test ends, even when it fails.
//!
//! Network safety: everything here lives in namespaces made by the test, with private addresses;
//! nothing binds to the host's own interfaces. These tests need root (CAP_NET_ADMIN); without it
//! they fail with a clear message rather than skip.

pub mod rack;
pub mod stick;

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Panics unless the test runs as root, which network namespaces need.
pub fn require_root() {
    // /proc/self/status holds the effective uid on its Uid: line.
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .expect("Uid line");
    assert_eq!(euid, "0", "end-to-end tests create network namespaces and must run as root (.ci/run does)");
}

/// Runs a command to completion, panicking with its output if it fails.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Absolute path of a program, or a panic naming the package that provides it.
pub fn program(name: &str, package: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin", "/usr/local/sbin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} not found: install the Debian package {package} (.ci/run does)");
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A network namespace, deleted when dropped.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a namespace with a unique name starting with `prefix`, loopback up.
    pub fn new(prefix: &str) -> Netns {
        let name = format!("{prefix}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        ns.exec_ok(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command that runs `argv` inside the namespace.
    pub fn command(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(argv);
        c
    }

    /// Runs `argv` inside the namespace to completion; panics if it fails.
    pub fn exec_ok(&self, argv: &[&str]) -> Output {
        run(&mut self.command(argv))
    }

    /// Adds a bridge `name` (a switch for the veths and taps given to it with `ip link set PORT
    /// master NAME`) and brings it up.
    pub fn bridge(&self, name: &str) {
        self.exec_ok(&["ip", "link", "add", name, "type", "bridge"]);
        self.exec_ok(&["ip", "link", "set", name, "up"]);
    }

    /// Starts `argv` inside the namespace; it is killed by PID when the guard drops.
    pub fn spawn(&self, argv: &[&str], log: &Path) -> Proc {
        let file = std::fs::File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let child = self
            .command(argv)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {argv:?}: {e}"));
        Proc { child, what: argv.join(" ") }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Processes still inside keep nothing alive: `ip netns del` unmounts the name, and the
        // guards of every process this test started have already run (they drop first).
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// Links two namespaces with a veth pair: `a_if` in `a`, `b_if` in `b`, both up.
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) {
    let tmp = format!("rt{}x{}", std::process::id() % 100_000, SEQ.fetch_add(1, Ordering::Relaxed));
    let peer = format!("{tmp}p");
    run(Command::new("ip").args(["link", "add", &tmp, "type", "veth", "peer", "name", &peer]));
    run(Command::new("ip").args(["link", "set", &tmp, "netns", a.name(), "name", a_if]));
    run(Command::new("ip").args(["link", "set", &peer, "netns", b.name(), "name", b_if]));
    a.exec_ok(&["ip", "link", "set", a_if, "up"]);
    b.exec_ok(&["ip", "link", "set", b_if, "up"]);
}

/// An interface `name` in `ns` on top of `lower` with its own MAC and address (a macvlan in
/// bridge mode): a simulated node whose requests reach the master from `cidr`'s address with
/// `mac` in its frames, as a real node's do (the master hands a node's token only to the
/// address its neighbour table has at that MAC).
/// Send from it with `curl --interface if!NAME` (bound to the device: the routing table alone
/// would send from the lower link, with its MAC).
pub fn macvlan(ns: &Netns, lower: &str, name: &str, mac: &str, cidr: &str) {
    let mac = mac.replace('-', ":");
    // Each interface answers ARP for its own addresses only (else the lower link answers for
    // the node's address with its own MAC).
    ns.exec_ok(&["sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1"]);
    ns.exec_ok(&[
        "ip", "link", "add", "link", lower, "name", name, "address", &mac, "type", "macvlan", "mode", "bridge",
    ]);
    ns.exec_ok(&["ip", "addr", "add", cidr, "dev", name]);
    ns.exec_ok(&["ip", "link", "set", name, "up"]);
}

/// A process started by a test, killed and reaped by PID when dropped.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    what: String,
}

impl Proc {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the process has exited.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends SIGINT (tcpdump flushes its file on it) and waits up to `limit` for the exit.
    pub fn interrupt(mut self, limit: Duration) -> io::Result<()> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status()?;
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(io::Error::new(io::ErrorKind::TimedOut, format!("{} did not stop", self.what)))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A foreign DHCP server for a segment: dnsmasq in `ns` on `iface` (which already has its
/// address), handing out `range` ("FIRST,LAST,MASK,TIME") and nothing for PXE; DNS off; its
/// lease file and log in `dir`. Killed by PID when the guard drops.
pub fn foreign_dnsmasq(ns: &Netns, iface: &str, range: &str, dir: &Path) -> Proc {
    let dnsmasq = program("dnsmasq", "dnsmasq-base");
    let p = ns.spawn(
        &[
            dnsmasq.to_str().unwrap(),
            "--no-daemon",
            "--conf-file=/dev/null",
            "--port=0",
            &format!("--interface={iface}"),
            "--bind-interfaces",
            &format!("--dhcp-range={range}"),
            "--no-ping",
            &format!("--dhcp-leasefile={}", dir.join("dnsmasq.leases").display()),
            "--log-dhcp",
            "--log-facility=-",
        ],
        &dir.join("dnsmasq.log"),
    );
    std::thread::sleep(Duration::from_millis(500));
    p
}

/// Polls `f` every 20 ms until it is true or `limit` passes.
pub fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// Where scripts/setup unpacked Debian's kernel for the QEMU guests (`scripts/fetch-kernel`):
/// `RECON_KERNEL_ROOT`, else /var/cache/recon/kernel. Tests never download it themselves.
pub fn kernel_root() -> PathBuf {
    std::env::var_os("RECON_KERNEL_ROOT").map_or_else(|| PathBuf::from("/var/cache/recon/kernel"), PathBuf::from)
}

/// A fresh directory under the target dir for one test's files.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e").join(format!(
        "{name}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The `recon` binary, built by cargo for this test run (`cargo test` builds the workspace's
/// binaries first; `RECON_BIN` overrides).
pub fn recon_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("RECON_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test exe");
    // target/<profile>/deps/<test> or target/<profile>/<bin> -> target/<profile>/recon
    let mut dir = exe.parent().expect("target dir");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent().expect("target dir");
    }
    let bin = dir.join("recon");
    assert!(
        bin.exists(),
        "{} missing: run `cargo build -p agent` first (the README's test command does)",
        bin.display()
    );
    bin
}
