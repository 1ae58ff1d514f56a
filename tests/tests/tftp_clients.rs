//! `recon tftpd` against real TFTP clients no one here wrote: tftp-hpa, atftp (blksize and
//! windowsize), curl (default and --tftp-blksize 1468) and busybox tftp, in network namespaces
//! this test makes, over a veth pair; 1 MB and 40 MB files compared byte for byte; the same under
//! tc netem loss and reordering; traversal attempts; the transfer cap and idle timeout.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use recon_tests::{Netns, Proc, program, recon_bin, require_root, scratch_dir, veth, wait_for};

/// One lab at a time: the tests share two cores, and timing-sensitive transfers suffer when
/// they overlap.
static SERIAL: Mutex<()> = Mutex::new(());

const SERVER: &str = "10.78.0.1";

struct Lab {
    dir: PathBuf,
    root: PathBuf,
    srv: Netns,
    cli: Netns,
    server: Option<Proc>,
    _wan: Option<(Netns, Proc)>,
}

impl Lab {
    fn new(name: &str, extra: &[&str]) -> Lab {
        Lab::build(name, extra, None)
    }

    /// With `impair = Some((loss, reorder))`, the link runs through tests/tools/impair.py in a
    /// third namespace, which drops and reorders frames both ways (tc netem is not in this
    /// kernel).
    fn build(name: &str, extra: &[&str], impair: Option<(f64, f64)>) -> Lab {
        require_root();
        let dir = scratch_dir(name);
        let root = dir.join("root");
        std::fs::create_dir_all(&root).unwrap();
        let srv = Netns::new("recon-tsrv");
        let cli = Netns::new("recon-tcli");
        let wan = match impair {
            None => {
                veth(&srv, "srv0", &cli, "cli0");
                None
            }
            Some((loss, reorder)) => {
                let wan = Netns::new("recon-twan");
                veth(&srv, "srv0", &wan, "wa");
                veth(&cli, "cli0", &wan, "wb");
                // Frames are copied as they are: the endpoints must fill in their checksums.
                let ethtool = program("ethtool", "ethtool").display().to_string();
                srv.exec_ok(&[&ethtool, "-K", "srv0", "tx", "off"]);
                cli.exec_ok(&[&ethtool, "-K", "cli0", "tx", "off"]);
                let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/impair.py");
                let py = program("python3", "python3").display().to_string();
                let (l, r) = (loss.to_string(), reorder.to_string());
                let log = dir.join("impair.log");
                let bridge = wan.spawn(
                    &[&py, tool.to_str().unwrap(), "wa", "wb", "--loss", &l, "--reorder", &r, "--limit", "900"],
                    &log,
                );
                assert!(wait_for(Duration::from_secs(10), || std::fs::read_to_string(&log)
                    .is_ok_and(|t| t.contains("impair:"))));
                Some((wan, bridge))
            }
        };
        srv.exec_ok(&["ip", "addr", "add", &format!("{SERVER}/24"), "dev", "srv0"]);
        cli.exec_ok(&["ip", "addr", "add", "10.78.0.2/24", "dev", "cli0"]);
        let mut lab = Lab { dir, root, srv, cli, server: None, _wan: wan };
        lab.start(extra);
        lab
    }

    fn start(&mut self, extra: &[&str]) {
        let bin = recon_bin();
        let mut argv = vec![bin.to_str().unwrap(), "tftpd", "--root", self.root.to_str().unwrap(), "--listen", SERVER];
        argv.extend_from_slice(extra);
        let log = self.dir.join("recon.log");
        self.server = Some(self.srv.spawn(&argv, &log));
        assert!(
            wait_for(Duration::from_secs(10), || std::fs::read_to_string(&log).is_ok_and(|l| l.contains("serving"))),
            "recon tftpd did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("recon.log")).unwrap_or_default()
    }

    /// A file of `len` pseudo-random octets in the root.
    fn file(&self, name: &str, len: usize) -> PathBuf {
        let mut x = 0x2545_f491_4f6c_dd1du64 ^ len as u64;
        let data: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let p = self.root.join(name);
        std::fs::write(&p, data).unwrap();
        p
    }

    /// Runs a client command in the client namespace, with a time limit.
    fn client(&self, argv: &[&str], limit: Duration) -> std::process::Output {
        let mut full = vec!["timeout".to_owned(), format!("{}", limit.as_secs())];
        full.extend(argv.iter().map(|s| (*s).to_owned()));
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        self.cli.command(&refs).current_dir(&self.dir).output().expect("client runs")
    }
}

/// The clients, each as a command that fetches NAME into OUT.
fn clients() -> Vec<(&'static str, Vec<String>)> {
    let tftp = program("tftp", "tftp-hpa").display().to_string();
    let atftp = program("atftp", "atftp").display().to_string();
    let curl = program("curl", "curl").display().to_string();
    let busybox = program("busybox", "busybox-static").display().to_string();
    let url = format!("tftp://{SERVER}/NAME");
    vec![
        (
            "tftp-hpa",
            vec![
                tftp,
                "-m".into(),
                "binary".into(),
                SERVER.into(),
                "-c".into(),
                "get".into(),
                "NAME".into(),
                "OUT".into(),
            ],
        ),
        (
            "atftp-1468",
            vec![
                atftp.clone(),
                "--option".into(),
                "blksize 1468".into(),
                "-g".into(),
                "-r".into(),
                "NAME".into(),
                "-l".into(),
                "OUT".into(),
                SERVER.into(),
            ],
        ),
        (
            "atftp-1468-w16",
            vec![
                atftp,
                "--option".into(),
                "blksize 1468".into(),
                "--option".into(),
                "windowsize 16".into(),
                "-g".into(),
                "-r".into(),
                "NAME".into(),
                "-l".into(),
                "OUT".into(),
                SERVER.into(),
            ],
        ),
        ("curl", vec![curl.clone(), "-sS".into(), "-o".into(), "OUT".into(), url.clone()]),
        ("curl-1468", vec![curl, "-sS".into(), "--tftp-blksize".into(), "1468".into(), "-o".into(), "OUT".into(), url]),
        (
            "busybox",
            vec![
                busybox,
                "tftp".into(),
                "-b".into(),
                "1468".into(),
                "-g".into(),
                "-r".into(),
                "NAME".into(),
                "-l".into(),
                "OUT".into(),
                SERVER.into(),
            ],
        ),
    ]
}

fn fetch(lab: &Lab, client: &str, argv: &[String], name: &str, limit: Duration) -> (PathBuf, Duration) {
    let out = lab.dir.join(format!("{client}-{name}.out"));
    let _ = std::fs::remove_file(&out);
    let argv: Vec<String> =
        argv.iter().map(|a| a.replace("NAME", name).replace("OUT", out.to_str().unwrap())).collect();
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let t = Instant::now();
    let o = lab.client(&refs, limit);
    let took = t.elapsed();
    assert!(
        o.status.success(),
        "{client} {name}: {}\n{}{}\nserver log:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        lab.log()
    );
    (out, took)
}

fn same(a: &Path, b: &Path) -> bool {
    std::fs::read(a).ok() == std::fs::read(b).ok()
}

#[test]
fn every_client_gets_1_and_40_mb_files_intact() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new("tftp-clients", &[]);
    let small = lab.file("f1M", 1 << 20);
    let big = lab.file("f40M", 40 << 20);
    for (client, argv) in clients() {
        for (name, path) in [("f1M", &small), ("f40M", &big)] {
            let (out, took) = fetch(&lab, client, &argv, name, Duration::from_secs(240));
            assert!(same(&out, path), "{client} {name}: the copy differs from the file");
            eprintln!(
                "{client} {name}: {:.1} MB/s",
                std::fs::metadata(path).unwrap().len() as f64 / took.as_secs_f64() / 1e6
            );
            let _ = std::fs::remove_file(out);
        }
    }
    let log = lab.log();
    // tftp-hpa and curl's default use 512-octet blocks: 40 MB is 81,921 blocks, so the block
    // number rolled over past 65535 twice and the copies still matched.
    assert!(log.contains("f40M: 41943040 B") && log.contains("blksize 512, window 1"), "{log}");
    assert!(log.contains("blksize 1468, window 16"), "atftp's windowsize was not granted: {log}");
    assert!(!log.contains("failed"), "{log}");
}

#[test]
fn loss_and_reordering_do_not_corrupt_transfers() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 5 % of the frames lost each way, and 5 % held back behind the next one.
    let lab = Lab::build("tftp-impaired", &[], Some((0.05, 0.05)));
    let small = lab.file("f1M", 1 << 20);
    for (client, argv) in clients() {
        let (out, _) = fetch(&lab, client, &argv, "f1M", Duration::from_secs(240));
        assert!(same(&out, &small), "{client}: the copy differs under loss");
    }
    // And a 40 MB file through the windowed client.
    let big = lab.file("f40M", 40 << 20);
    let (_, argv) = clients().into_iter().find(|(c, _)| *c == "atftp-1468-w16").unwrap();
    let (out, took) = fetch(&lab, "atftp-1468-w16", &argv, "f40M", Duration::from_secs(300));
    assert!(same(&out, &big), "40 MB windowed under loss");
    eprintln!("atftp w16 40 MB under 5 % loss: {took:?}");
    let log = lab.log();
    assert!(!log.contains("failed"), "{log}");
    let resent: u64 =
        log.lines().filter_map(|l| l.split(", ").last()?.strip_suffix(" resent)")?.parse::<u64>().ok()).sum();
    assert!(resent > 0, "no retransmissions under 5 % loss? {log}");
    eprintln!("{resent} blocks resent; {}", std::fs::read_to_string(lab.dir.join("impair.log")).unwrap_or_default());
}

#[test]
fn traversal_writes_and_missing_files_are_refused() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new("tftp-refuse", &[]);
    lab.file("ok.bin", 100);
    std::fs::write(lab.dir.join("outside"), b"secret").unwrap();
    std::os::unix::fs::symlink("../outside", lab.root.join("escape")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", lab.root.join("passwd")).unwrap();
    let tftp = program("tftp", "tftp-hpa").display().to_string();
    let get = |name: &str| {
        let out = lab.dir.join("got");
        let _ = std::fs::remove_file(&out);
        let o = lab.client(
            &[&tftp, "-m", "binary", SERVER, "-c", "get", name, out.to_str().unwrap()],
            Duration::from_secs(20),
        );
        let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        (std::fs::read(&out).unwrap_or_default(), text)
    };
    for name in ["../../etc/passwd", "../outside", "escape", "passwd"] {
        let (data, text) = get(name);
        assert!(data.is_empty(), "{name}: got {} octets", data.len());
        assert!(text.contains("Access violation") || text.contains("access denied"), "{name}: {text}");
    }
    let (data, text) = get("/etc/passwd");
    assert!(data.is_empty(), "/etc/passwd leaked");
    assert!(text.contains("file not found: /etc/passwd"), "{text}");
    let (data, text) = get("nope.efi");
    assert!(data.is_empty());
    assert!(text.contains("file not found: nope.efi"), "{text}");
    // tftp-hpa's default mode is netascii: refused with advice, not a corrupted binary.
    let o = lab.client(
        &[&tftp, SERVER, "-c", "get", "ok.bin", lab.dir.join("ascii").to_str().unwrap()],
        Duration::from_secs(20),
    );
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("netascii mode is not supported"), "{text}");
    // A write is refused.
    std::fs::write(lab.dir.join("up"), b"x").unwrap();
    let o = lab.client(
        &[&tftp, "-m", "binary", SERVER, "-c", "put", lab.dir.join("up").to_str().unwrap(), "up"],
        Duration::from_secs(20),
    );
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("read-only"), "{text}");
    assert!(!lab.root.join("up").exists());
    let (data, _) = get("ok.bin");
    assert_eq!(data.len(), 100, "the server still serves after refusals");
}

#[test]
fn the_transfer_cap_holds_and_silent_clients_time_out() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new("tftp-cap", &["--max-transfers", "1", "--retries", "3"]);
    let file = lab.file("f", 300_000);
    // A client that asks and then never acknowledges: it holds the only slot until it times out.
    let py = program("python3", "python3").display().to_string();
    let script = format!(
        "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.sendto(b'\\x00\\x01f\\x00octet\\x00',('{SERVER}',69))\ntime.sleep(8)\n"
    );
    let silent = lab.cli.spawn(&[&py, "-c", &script], &lab.dir.join("silent.log"));
    std::thread::sleep(Duration::from_millis(300));
    // curl retries its request; it is served once the silent one has timed out.
    let (_, argv) = clients().into_iter().find(|(c, _)| *c == "curl-1468").unwrap();
    let t = Instant::now();
    let (out, _) = fetch(&lab, "curl-1468", &argv, "f", Duration::from_secs(60));
    assert!(same(&out, &file));
    drop(silent);
    let log = lab.log();
    assert!(log.contains("1 transfers running, dropping a request"), "the cap did not hold: {log}");
    assert!(log.contains("failed after") && log.contains("no acknowledgement after 3 retransmissions"), "{log}");
    eprintln!("served after the silent client timed out: {:?}", t.elapsed());
}
