//! The command-line messages that need a network namespace of their own: what a user without
//! root is told about the ports, and the warning for a boot directory without iPXE. Each test
//! makes its namespace and addresses there; nothing binds on this machine's interfaces.

use std::time::Duration;

use recon_tests::{Netns, recon_bin, require_root, scratch_dir, veth, wait_for};

#[test]
fn without_root_the_ports_below_1024_say_what_they_need() {
    require_root();
    let ns = Netns::new("cli-noroot");
    let peer = Netns::new("cli-noroot-b");
    veth(&ns, "eth0", &peer, "eth0");
    ns.exec_ok(&["ip", "addr", "add", "10.231.0.1/24", "dev", "eth0"]);
    let dir = scratch_dir("cli-noroot");
    // The binary where the unprivileged user can run it.
    let bin = dir.join("recon");
    std::fs::copy(recon_bin(), &bin).unwrap();
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    for d in [&dir, &root] {
        std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let as_nobody = |args: &[&str]| {
        let mut argv = vec!["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"];
        argv.push(bin.to_str().unwrap());
        argv.extend_from_slice(args);
        let out = ns.command(&argv).output().expect("setpriv");
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = as_nobody(&["tftpd", "--root", root.to_str().unwrap(), "--listen", "10.231.0.1:69"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("binding udp 10.231.0.1:69") && err.contains("needs root or CAP_NET_BIND_SERVICE"), "{err}");
    // A data directory nobody may write: made here, handed over.
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::os::unix::fs::chown(&data, Some(65534), Some(65534)).unwrap();
    let (code, err) = as_nobody(&[
        "httpd",
        "--boot",
        root.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--listen",
        "10.231.0.1:80",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("binding tcp 10.231.0.1:80") && err.contains("needs root or CAP_NET_BIND_SERVICE"), "{err}");
}

#[test]
fn serve_warns_which_firmware_cannot_boot_without_its_ipxe_binary() {
    require_root();
    let ns = Netns::new("cli-boot");
    let client = Netns::new("cli-boot-c");
    veth(&ns, "eth0", &client, "eth0");
    let dir = scratch_dir("cli-boot");
    let boot = dir.join("boot");
    std::fs::create_dir_all(&boot).unwrap();
    std::fs::write(boot.join("ipxe.efi"), b"not really iPXE").unwrap();
    let log = dir.join("serve.log");
    let bin = recon_bin();
    let serve = ns.spawn(
        &[
            bin.to_str().unwrap(),
            "serve",
            "--interface",
            "eth0",
            "--address",
            "10.232.0.1/24",
            "--boot",
            boot.to_str().unwrap(),
            "--data",
            dir.join("data").to_str().unwrap(),
            "--dhcp",
            "off",
        ],
        &log,
    );
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(wait_for(Duration::from_secs(20), || text().contains("http: serving")), "{}", text());
    let t = text();
    assert!(t.contains("no undionly.kpxe in") && t.contains("BIOS PXE clients cannot boot"), "{t}");
    assert!(!t.contains("UEFI PXE clients cannot boot"), "ipxe.efi is there: {t}");
    drop(serve);
}
