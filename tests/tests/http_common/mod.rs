//! What the HTTP tests share: a server namespace running `recon httpd` and a client namespace,
//! joined by a veth pair on private addresses, and clients run inside the client namespace.
//! Everything is stopped by PID and the namespaces deleted when the lab drops, also on failure.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use recon_tests::{Netns, Proc, macvlan, program, recon_bin, require_root, scratch_dir, veth, wait_for};

pub const CLIENT: &str = "10.81.0.2";
pub const SERVER: &str = "10.81.0.1";

pub struct Lab {
    pub dir: PathBuf,
    /// Served files.
    pub boot: PathBuf,
    /// The master's data directory.
    pub data: PathBuf,
    pub srv: Netns,
    pub cli: Netns,
    pub server: Option<Proc>,
    args: Vec<String>,
    /// Servers started so far; each writes its own log.
    starts: usize,
    /// Boot files in /dev/shm (removed on drop), so large files stay in RAM.
    shm: Option<PathBuf>,
    /// The simulated nodes' MACs, in the order their interfaces were made (`node`).
    nodes: std::cell::RefCell<Vec<String>>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        // The server first (its guard kills by PID), then the files; the namespaces drop last.
        self.server.take();
        if let Some(shm) = &self.shm {
            let _ = std::fs::remove_dir_all(shm);
        }
    }
}

impl Lab {
    /// A lab with `recon httpd --boot <boot> --data <data> --listen SERVER:80 EXTRA...` running.
    pub fn new(name: &str, extra: &[&str], boot_in_ram: bool) -> Lab {
        require_root();
        program("curl", "curl");
        let dir = scratch_dir(name);
        let shm = boot_in_ram.then(|| {
            let p = PathBuf::from(format!("/dev/shm/recon-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            p
        });
        let boot = shm.clone().unwrap_or_else(|| dir.join("boot"));
        std::fs::create_dir_all(&boot).unwrap();
        let data = dir.join("data");
        let srv = Netns::new("recon-hsrv");
        let cli = Netns::new("recon-hcli");
        veth(&srv, "srv0", &cli, "cli0");
        srv.exec_ok(&["ip", "addr", "add", &format!("{SERVER}/24"), "dev", "srv0"]);
        cli.exec_ok(&["ip", "addr", "add", &format!("{CLIENT}/24"), "dev", "cli0"]);
        let args = extra.iter().map(|s| (*s).to_owned()).collect();
        let mut lab = Lab { dir, boot, data, srv, cli, server: None, args, starts: 0, shm, nodes: Default::default() };
        lab.start();
        lab
    }

    /// Starts the server (again), waiting until it listens.
    pub fn start(&mut self) {
        let bin = recon_bin().display().to_string();
        let (boot, data) = (self.boot.display().to_string(), self.data.display().to_string());
        let listen = format!("{SERVER}:80");
        let mut argv = vec![bin.as_str(), "httpd", "--boot", &boot, "--data", &data, "--listen", &listen];
        argv.extend(self.args.iter().map(String::as_str));
        self.starts += 1;
        let log = self.log_path(self.starts);
        self.server = Some(self.srv.spawn(&argv, &log));
        assert!(
            wait_for(Duration::from_secs(10), || std::fs::read_to_string(&log)
                .is_ok_and(|l| l.contains("http: serving"))),
            "recon httpd did not start: {}",
            self.log()
        );
    }

    /// SIGKILL, as a power cut would stop it (the guard kills with SIGKILL and reaps).
    pub fn kill(&mut self) {
        self.server.take();
    }

    fn log_path(&self, n: usize) -> PathBuf {
        self.dir.join(format!("recon.{n}.log"))
    }

    /// Every server's log, in order.
    pub fn log(&self) -> String {
        (1..=self.starts).map(|n| std::fs::read_to_string(self.log_path(n)).unwrap_or_default()).collect()
    }

    /// A file of `len` pseudo-random octets in the boot directory.
    pub fn file(&self, name: &str, len: usize) -> Vec<u8> {
        let data = pseudo_random(len);
        let p = self.boot.join(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(&p, &data).unwrap();
        data
    }

    /// Runs `argv` in the client namespace within `limit`.
    pub fn client(&self, argv: &[&str], limit: Duration) -> Output {
        let secs = limit.as_secs().max(1).to_string();
        let mut full = vec!["timeout", secs.as_str()];
        full.extend_from_slice(argv);
        self.cli.command(&full).current_dir(&self.dir).output().expect("client runs")
    }

    /// curl with `args` (URLs relative to the server are completed), returning the status of the
    /// last response, its header block and the body.
    pub fn curl(&self, args: &[&str]) -> Response {
        let curl = program("curl", "curl").display().to_string();
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (hdr, body) = (self.dir.join(format!("h{n}")), self.dir.join(format!("b{n}")));
        let urls: Vec<String> = args
            .iter()
            .map(|a| if a.starts_with('/') { format!("http://{SERVER}{a}") } else { (*a).to_owned() })
            .collect();
        let mut argv = vec![curl.as_str(), "-sS", "-D", hdr.to_str().unwrap(), "-o", body.to_str().unwrap()];
        argv.extend(["-w", "%{http_code}"]);
        argv.extend(urls.iter().map(String::as_str));
        let o = self.client(&argv, Duration::from_secs(60));
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        let headers = std::fs::read_to_string(&hdr).unwrap_or_default();
        let body = std::fs::read(&body).unwrap_or_default();
        let status = stdout.trim().parse().unwrap_or_else(|_| {
            panic!("curl {args:?}: {stdout}{}\nserver log:\n{}", String::from_utf8_lossy(&o.stderr), self.log())
        });
        // The last response's block (after any 100 Continue).
        let headers = headers.rsplit("\r\n\r\n").find(|b| !b.is_empty()).unwrap_or_default().to_owned();
        Response { status, headers, body }
    }

    /// Runs a Python script in the client namespace; its stdout.
    pub fn python(&self, script: &str, limit: Duration) -> String {
        let py = program("python3", "python3").display().to_string();
        let o = self.client(&[&py, "-c", script], limit);
        assert!(
            o.status.success(),
            "python: {}\n{}{}\nserver log:\n{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
            self.log()
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// curl's `--interface` for a simulated node with `mac` in the client namespace (made on
    /// first use: a macvlan `nK` with that MAC on the client's link, address 10.81.0.100+K).
    pub fn node(&self, mac: &str) -> String {
        let mac = mac.replace('-', ":").to_ascii_lowercase();
        let mut nodes = self.nodes.borrow_mut();
        let k = match nodes.iter().position(|m| *m == mac) {
            Some(k) => k,
            None => {
                let k = nodes.len();
                assert!(k < 100, "at most 100 simulated nodes");
                macvlan(&self.cli, "cli0", &format!("n{k}"), &mac, &format!("10.81.0.{}/24", 100 + k));
                nodes.push(mac);
                k
            }
        };
        format!("if!n{k}")
    }

    /// The iPXE script and the token in it for `mac`, asked from that node's own address.
    pub fn token(&self, mac: &str) -> String {
        let from = self.node(mac);
        let r = self.curl(&["--interface", &from, &format!("/boot.ipxe?mac={mac}")]);
        assert_eq!(r.status, 200, "{}", r.text());
        token_of(&r.text())
    }
}

static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `recon.token=...` in a boot script.
pub fn token_of(script: &str) -> String {
    script
        .split_whitespace()
        .find_map(|w| w.strip_prefix("recon.token="))
        .unwrap_or_else(|| panic!("no token in {script}"))
        .to_owned()
}

pub fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64 ^ len as u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Seeds the data directory with a DHCP lease for `ip` as runtime::dhcp records it, so the
/// server can tell which node a client address is.
pub fn seed_lease(data: &Path, mac: &str, ip: &str) {
    let id = mac.replace(':', "-");
    let dir = data.join("nodes").join(&id);
    std::fs::create_dir_all(&dir).unwrap();
    let line = format!("{{\"t\":1,\"kind\":\"dhcp-ack\",\"mac\":\"{mac}\",\"ip\":\"{ip}\"}}\n");
    std::fs::write(dir.join("events.jsonl"), line).unwrap();
}
