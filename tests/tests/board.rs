//! The operator's view against a real master with simulated peers: `recon serve` in a namespace,
//! and from another namespace four nodes doing what booting nodes do over HTTP (boot.ipxe, the
//! kernel and initrd, the image, the agent's events and upload), stopping at different steps.
//! Then:
//! - `recon board` in tmux at 80x25 (a VGA console's size): captured with capture-pane, it must
//!   show every node where it stopped, the stuck one as stuck, the counts; `f` asks before it
//!   finishes and any other key goes back;
//! - `recon board --lines` with TERM=dumb: a line per node;
//! - `recon finish` on the master: DHCP off, the counts, the reports;
//! - report.html in headless Chromium: a screenshot, every stored node's serial in the page's
//!   text, no console errors; the CSV and NetBox files hold the nodes.
//!
//! The captures are kept in the test's directory (target/e2e/board-*/board-80x25.txt,
//! report.png). Network: namespaces made here, private addresses; nothing else is reached.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use recon_tests::{Netns, macvlan, recon_bin, require_root, scratch_dir, veth, wait_for};

const MASTER: &str = "10.234.0.1";

/// A tmux server of the test's own, killed on drop.
struct Tmux(String);

impl Tmux {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux").arg("-L").arg(&self.0).args(args).output().expect("tmux")
    }
    fn capture(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "board"]).stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// A simulated node in the client namespace: a macvlan `nK` with `mac` and 10.234.0.K; what
/// curl's `--interface` takes to send from it (the master hands a MAC's token to its address
/// only).
fn node(ns: &Netns, k: u8, mac: &str) -> String {
    macvlan(ns, "eth0", &format!("n{k}"), mac, &format!("10.234.0.{k}/24"));
    format!("if!n{k}")
}

struct Client<'a> {
    ns: &'a Netns,
}

impl Client<'_> {
    /// curl from source address `from`; the body.
    fn curl(&self, from: &str, args: &[&str]) -> String {
        let mut argv = vec!["curl", "-sS", "--interface", from];
        argv.extend_from_slice(args);
        String::from_utf8_lossy(&self.ns.exec_ok(&argv).stdout).into_owned()
    }

    /// GET boot.ipxe as iPXE does for `mac`; the node's token.
    fn boot_script(&self, from: &str, mac: &str) -> String {
        let s = self.curl(from, &[&format!("http://{MASTER}/boot.ipxe?mac={mac}")]);
        s.split("recon.token=").nth(1).and_then(|t| t.split_whitespace().next()).expect("a token").to_owned()
    }

    fn get(&self, from: &str, path: &str) {
        self.curl(from, &["-o", "/dev/null", &format!("http://{MASTER}/{path}")]);
    }

    fn event(&self, from: &str, mac: &str, token: &str, seq: u32, kind: &str, phase: &str) {
        let body = format!(r#"{{"kind":"{kind}","phase":"{phase}","detail":"","at":0,"run":1,"seq":{seq}}}"#);
        self.curl(
            from,
            &[
                "-H",
                "Content-Type: application/json",
                "-H",
                &format!("Authorization: Bearer {token}"),
                "--data-binary",
                &body,
                &format!("http://{MASTER}/api/v1/nodes/{mac}/events"),
            ],
        );
    }

    fn upload(&self, from: &str, mac: &str, token: &str, serial: &str, dir: &Path) {
        let mut inv = inventory::model::Inventory { schema: inventory::model::SCHEMA, ..Default::default() };
        inv.run.boot_mac = Some(mac.to_owned());
        inv.run.hostname = Some(format!("host-{serial}"));
        inv.system.serial = Some(serial.to_owned());
        inv.system.manufacturer = Some("Recon Lab".into());
        inv.system.product = Some("Board Node".into());
        inv.cpu.model_name = Some("Test CPU @ 2.0GHz".into());
        inv.cpu.logical_cpus = 4;
        inv.memory.usable_bytes = Some(8 << 30);
        let f = dir.join(format!("{serial}.json"));
        std::fs::write(&f, serde_json::to_vec(&inv).unwrap()).unwrap();
        let code = self.curl(
            from,
            &[
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-H",
                "Content-Type: application/json",
                "-H",
                &format!("Authorization: Bearer {token}"),
                "--data-binary",
                &format!("@{}", f.display()),
                &format!("http://{MASTER}/api/v1/nodes/{mac}/inventory"),
            ],
        );
        assert_eq!(code, "201", "upload of {mac}");
    }
}

#[test]
fn the_board_shows_where_each_node_stopped_and_finish_writes_the_reports() {
    require_root();
    let dir = scratch_dir("board");
    let boot = dir.join("boot");
    std::fs::create_dir_all(&boot).unwrap();
    for (f, n) in [
        ("vmlinuz", 1 << 20),
        ("initrd.img", 2 << 20),
        ("recon.iso", 4 << 20),
        ("undionly.kpxe", 1024),
        ("ipxe.efi", 1024),
    ] {
        std::fs::write(boot.join(f), vec![7u8; n]).unwrap();
    }
    let srv = Netns::new("board-srv");
    let cli = Netns::new("board-cli");
    veth(&srv, "eth0", &cli, "eth0");
    let data = dir.join("data");
    let bin = recon_bin();
    let log = dir.join("serve.log");
    let _serve = srv.spawn(
        &[
            bin.to_str().unwrap(),
            "serve",
            "--interface",
            "eth0",
            "--address",
            &format!("{MASTER}/24"),
            "--boot",
            boot.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--dhcp",
            "off",
            "--stuck",
            "8",
        ],
        &log,
    );
    assert!(wait_for(Duration::from_secs(20), || std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("http: serving")));
    let c = Client { ns: &cli };
    let (a, b, stuck, img) = ("52:54:00:b0:00:01", "52:54:00:b0:00:02", "52:54:00:b0:00:03", "52:54:00:b0:00:04");
    let (na, nb, nstuck, nimg) = (node(&cli, 11, a), node(&cli, 12, b), node(&cli, 13, stuck), node(&cli, 14, img));
    // A: all the way, no BMC: done and up. B: all the way, powered off.
    for (from, mac, serial, last) in [(&na, a, "BOARD-SN-A", "done"), (&nb, b, "BOARD-SN-B", "poweroff")] {
        let t = c.boot_script(from, mac);
        c.get(from, "vmlinuz");
        c.get(from, "initrd.img");
        c.get(from, "recon.iso");
        for (seq, phase) in [(1, "probe"), (2, "fetch"), (3, "inventory"), (4, "upload")] {
            c.event(from, mac, &t, seq, "phase", phase);
        }
        c.upload(from, mac, &t, serial, &dir);
        c.event(from, mac, &t, 5, last, "poweroff");
    }
    // Stuck after its boot script.
    c.boot_script(&nstuck, stuck);
    std::thread::sleep(Duration::from_secs(9));
    // Got the image just now, its agent not yet heard from.
    c.boot_script(&nimg, img);
    c.get(&nimg, "vmlinuz");
    c.get(&nimg, "initrd.img");
    c.get(&nimg, "recon.iso");

    // The full board, 80x25, in tmux.
    let tmux = Tmux(format!("recon-board-{}", std::process::id()));
    let board_cmd = format!("ip netns exec {} {} board http://{MASTER}", cli.name(), bin.display());
    let o = tmux.cmd(&["new-session", "-d", "-s", "board", "-x", "80", "-y", "25", &board_cmd]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(wait_for(Duration::from_secs(15), || tmux.capture().contains(img)), "{}", tmux.capture());
    let screen = tmux.capture();
    std::fs::write(dir.join("board-80x25.txt"), &screen).unwrap();
    eprintln!("board capture: {}\n{screen}", dir.join("board-80x25.txt").display());
    assert!(screen.lines().all(|l| l.chars().count() <= 80), "{screen}");
    assert!(screen.contains("4 nodes: 1 booting, 0 inventoried, 2 done, 1 stuck"), "{screen}");
    assert!(screen.contains("MAC") && screen.contains("STATUS"), "{screen}");
    let line = |mac: &str| {
        screen.lines().find(|l| l.contains(mac)).unwrap_or_else(|| panic!("{mac} not shown:\n{screen}")).to_owned()
    };
    assert!(line(a).contains("BOARD-SN-A") && line(a).contains("done, stays up"), "{screen}");
    assert!(line(b).contains("BOARD-SN-B") && line(b).contains("powered off"), "{screen}");
    assert!(line(stuck).contains("stuck after boot script"), "{screen}");
    assert!(line(img).contains("image ok, agent hello next"), "{screen}");
    assert!(screen.contains(" log "), "the log pane: {screen}");
    // Finish asks first; any other key goes back.
    tmux.cmd(&["send-keys", "-t", "board", "f"]);
    assert!(wait_for(Duration::from_secs(5), || tmux.capture().contains("Press y to finish")), "{}", tmux.capture());
    tmux.cmd(&["send-keys", "-t", "board", "n"]);
    assert!(wait_for(Duration::from_secs(5), || !tmux.capture().contains("Press y to finish")), "{}", tmux.capture());
    tmux.cmd(&["send-keys", "-t", "board", "q"]);
    assert!(
        wait_for(Duration::from_secs(5), || !tmux.cmd(&["has-session", "-t", "board"]).status.success()),
        "q quits"
    );

    // The line form, where the terminal cannot do more.
    let lines = cli
        .command(&["env", "TERM=dumb", "timeout", "3", bin.to_str().unwrap(), "board", &format!("http://{MASTER}")])
        .output()
        .expect("recon board --lines");
    let lines = String::from_utf8_lossy(&lines.stdout).into_owned();
    for (mac, what) in [(a, "done, stays up"), (b, "powered off"), (stuck, "stuck after boot script")] {
        assert!(lines.lines().any(|l| l.starts_with(mac) && l.contains(what)), "{mac} {what}:\n{lines}");
    }

    // Finish, on the master itself.
    let fin = srv.exec_ok(&[bin.to_str().unwrap(), "finish", &format!("http://{MASTER}")]);
    let said = String::from_utf8_lossy(&fin.stdout).into_owned();
    assert!(said.contains("DHCP stopped"), "{said}");
    assert!(said.contains("4 nodes seen, 2 inventories stored, 2 never finished"), "{said}");

    // The reports.
    let html = data.join("report.html");
    let csv = std::fs::read_to_string(data.join("inventory.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "a header and a row per node:\n{csv}");
    let devices = std::fs::read_to_string(data.join("netbox/devices.csv")).unwrap();
    assert!(devices.contains("BOARD-SN-A") && devices.contains("BOARD-SN-B"), "{devices}");
    for mac in [a, b] {
        let j: serde_json::Value = serde_json::from_slice(
            &std::fs::read(data.join(format!("ironic/{}.json", mac.replace(':', "-")))).unwrap(),
        )
        .unwrap();
        assert_eq!(j["inventory"]["interfaces"].as_array().map(Vec::len), Some(0), "{j}");
    }
    let png = dir.join("report.png");
    let profile = dir.join("chromium-profile");
    let chromium = |extra: &[&str]| {
        let mut cmd = Command::new("chromium");
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", html.display()));
        cmd.output().expect("chromium")
    };
    let shot = chromium(&[&format!("--screenshot={}", png.display()), "--window-size=1280,1600"]);
    assert!(
        png.exists() && std::fs::metadata(&png).unwrap().len() > 10_000,
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    eprintln!("report screenshot: {}", png.display());
    let dom = chromium(&["--dump-dom"]);
    let text = String::from_utf8_lossy(&dom.stdout).into_owned();
    for want in ["BOARD-SN-A", "BOARD-SN-B", "Nodes that never finished", stuck, img] {
        assert!(text.contains(want), "{want} not in the rendered report");
    }
    let errors: Vec<String> = [&shot.stderr, &dom.stderr]
        .iter()
        .flat_map(|e| {
            String::from_utf8_lossy(e)
                .lines()
                .filter(|l| l.contains(":CONSOLE(") || l.contains("Uncaught"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

/// `recon serve` in a terminal is the board: its log goes to DIR/serve.log, a node that fetches
/// its boot script shows up, and `q` stops the master (the tmux session ends with it).
#[test]
fn serve_in_a_terminal_shows_the_board_and_q_stops_it() {
    require_root();
    let dir = scratch_dir("serve-board");
    let boot = dir.join("boot");
    std::fs::create_dir_all(&boot).unwrap();
    for f in ["vmlinuz", "initrd.img", "recon.iso", "undionly.kpxe", "ipxe.efi"] {
        std::fs::write(boot.join(f), b"x").unwrap();
    }
    let srv = Netns::new("sboard-srv");
    let cli = Netns::new("sboard-cli");
    veth(&srv, "eth0", &cli, "eth0");
    let data = dir.join("data");
    let bin = recon_bin();
    let tmux = Tmux(format!("recon-serve-board-{}", std::process::id()));
    let serve = format!(
        "ip netns exec {} {} serve --interface eth0 --address {MASTER}/24 --boot {} --data {} --dhcp off; \
         echo serve-exited-$?; sleep 30",
        srv.name(),
        bin.display(),
        boot.display(),
        data.display()
    );
    let o = tmux.cmd(&["new-session", "-d", "-s", "board", "-x", "80", "-y", "25", &serve]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(wait_for(Duration::from_secs(20), || tmux.capture().contains("STATUS")), "{}", tmux.capture());
    let mac = "52:54:00:b0:00:21";
    let from = node(&cli, 21, mac);
    Client { ns: &cli }.boot_script(&from, mac);
    assert!(wait_for(Duration::from_secs(10), || tmux.capture().contains(mac)), "{}", tmux.capture());
    let screen = tmux.capture();
    assert!(!screen.contains("INFO"), "log lines go to the file, not over the board:\n{screen}");
    let log = std::fs::read_to_string(data.join("serve.log")).unwrap();
    assert!(log.contains("http: serving"), "{log}");
    tmux.cmd(&["send-keys", "-t", "board", "q"]);
    assert!(
        wait_for(Duration::from_secs(10), || tmux.capture().contains("serve-exited-0")),
        "q stops the master: {}",
        tmux.capture()
    );
}
