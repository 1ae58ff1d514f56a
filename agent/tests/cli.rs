//! The command line as a newcomer meets it: every command's help, and a clear message (never a
//! panic) for each kind of bad input. Nothing here binds a socket: every refusal comes before
//! any service starts. (The messages that need a network namespace, such as ports that need
//! root, are in tests/tests/cli_netns.rs.)

use std::path::Path;
use std::process::Command;

/// Exit code, stdout, stderr.
fn recon(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_recon")).args(args).output().expect("run recon");
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

/// A refusal: exit code 2, one message on stderr, no panic.
fn refused(args: &[&str]) -> String {
    let (code, out, err) = recon(args);
    assert_eq!(code, 2, "{args:?}: exit {code}\nstdout: {out}\nstderr: {err}");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert!(err.starts_with("recon: "), "{args:?}: {err}");
    err
}

#[test]
fn every_command_answers_help_with_its_own_usage_and_defaults() {
    for (cmd, wants) in [
        (
            "serve",
            &["--lease SECS", "(default 3600)", "--probe SECS", "(default 4)", "--name NAME", "bang and recon"][..],
        ),
        ("agent", &["--boot DIR", "/usr/share/recon/boot", "--data DIR", "/var/lib/recon", "--interface IF"]),
        ("inventory", &["--root DIR", "--format F", "--raw"]),
        ("tftpd", &["--root DIR", "(default 0.0.0.0:69)", "(default 256)", "(default 10)"]),
        ("httpd", &["--boot DIR", "(default 0.0.0.0:80)", "--head-timeout SECS", "(default 8388608)"]),
        ("dump", &["FILE..."]),
    ] {
        for flag in ["--help", "-h"] {
            let (code, out, err) = recon(&[cmd, flag]);
            assert_eq!(code, 0, "recon {cmd} {flag}: {err}");
            assert!(out.starts_with(&format!("usage: recon {cmd}")), "recon {cmd} {flag}:\n{out}");
            for w in wants {
                assert!(out.contains(w), "recon {cmd} {flag} does not say {w:?}:\n{out}");
            }
        }
    }
    // Help comes first, whatever else is on the line.
    let (code, out, _) = recon(&["serve", "--lease", "10", "--help"]);
    assert_eq!((code, out.starts_with("usage: recon serve")), (0, true));
}

#[test]
fn the_readme_lists_the_commands_as_recon_help_does() {
    let (code, out, _) = recon(&["--help"]);
    assert_eq!(code, 0);
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    // README.md's "## Commands" section holds `recon --help`'s text, indented as a code block.
    let section = readme.split("## Commands").nth(1).expect("README.md has a ## Commands section");
    let block: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with("    usage: recon"))
        .take_while(|l| l.starts_with("    ") || l.is_empty())
        .collect();
    let block: Vec<String> = block.iter().map(|l| l.strip_prefix("    ").unwrap_or(l).to_owned()).collect();
    let block = block.join("\n");
    assert_eq!(block.trim_end(), out.trim_end(), "README.md's ## Commands block differs from `recon --help`");
    for cmd in ["agent", "serve", "inventory", "tftpd", "httpd", "dump", "version"] {
        assert!(out.contains(&format!("\n  {cmd} ")), "recon --help does not list {cmd}");
    }
}

#[test]
fn a_bad_number_names_its_flag() {
    let err = refused(&["serve", "--interface", "lo", "--boot", ".", "--data", "/nonexistent", "--lease", "1h"]);
    assert!(err.contains("--lease \"1h\": a whole number of seconds"), "{err}");
    let err = refused(&["serve", "--lease", "30"]);
    assert!(err.contains("--lease 30: a whole number of seconds, at least 60"), "{err}");
    let err = refused(&["tftpd", "--root", ".", "--max-transfers", "many"]);
    assert!(err.contains("--max-transfers \"many\""), "{err}");
    let err = refused(&["tftpd", "--root", ".", "--max-transfers", "0"]);
    assert!(err.contains("--max-transfers 0: a whole number, at least 1"), "{err}");
    let err = refused(&["httpd", "--boot", ".", "--data", "/tmp", "--workers", "-3"]);
    assert!(err.contains("--workers \"-3\""), "{err}");
    let err = refused(&["tftpd", "--root", ".", "--retries", "-1"]);
    assert!(err.contains("--retries \"-1\": a whole number of retransmissions"), "{err}");
    let err = refused(&["httpd", "--boot", ".", "--data", "/tmp", "--listen", "10.0.0.1:99999"]);
    assert!(err.contains("--listen \"10.0.0.1:99999\": not ADDR or ADDR:PORT"), "{err}");
}

#[test]
fn negative_nan_and_infinite_timeouts_are_refused_without_a_panic() {
    for (v, why) in [("-1", "negative"), ("NaN", "finite"), ("inf", "finite"), ("1e300", "a week"), ("soon", "seconds")]
    {
        for flag in ["--head-timeout", "--idle-timeout"] {
            let err = refused(&["httpd", "--boot", ".", "--data", "/tmp", flag, v]);
            assert!(err.contains(&format!("{flag} {v:?}")) && err.contains(why), "{flag} {v}: {err}");
        }
        let err = refused(&["serve", "--interface", "lo", "--boot", ".", "--data", "/tmp", "--probe", v]);
        assert!(err.contains(&format!("--probe {v:?}")) && err.contains(why), "--probe {v}: {err}");
    }
}

#[test]
fn serve_checks_its_boot_directory_before_anything_starts() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("no-such-boot");
    let err = refused(&[
        "serve",
        "--interface",
        "lo",
        "--boot",
        missing.to_str().unwrap(),
        "--data",
        d.path().join("data").to_str().unwrap(),
    ]);
    assert!(err.contains("no-such-boot: no such directory"), "{err}");
    assert!(!d.path().join("data").exists(), "nothing was created before the check");
}

#[test]
fn an_interface_that_does_not_exist_is_named_not_waited_for() {
    let err = refused(&["agent", "--interface", "nosuch0", "--cmdline", "recon.role=peer"]);
    assert!(err.contains("no interface \"nosuch0\" on this machine (there are: "), "{err}");
    assert!(err.contains("lo"), "the interfaces that exist are listed: {err}");
    let err = refused(&["serve", "--interface", "nosuch0", "--boot", ".", "--data", "/tmp"]);
    assert!(err.contains("no interface \"nosuch0\""), "{err}");
}

#[test]
fn required_options_unknown_options_and_commands_say_what_to_do() {
    let err = refused(&["serve", "--interface", "lo"]);
    assert!(err.contains("serve: --boot DIR is required") && err.contains("usage: recon serve"), "{err}");
    let err = refused(&["serve", "--bogus"]);
    assert!(err.contains("--bogus") && err.contains("recon serve --help"), "{err}");
    let err = refused(&["sevre"]);
    assert!(err.contains("unknown command \"sevre\"") && err.contains("usage: recon <command>"), "{err}");
    let err = refused(&["tftpd", "--root", "/nonexistent-dir"]);
    assert!(err.contains("--root /nonexistent-dir: not a directory"), "{err}");
    let err = refused(&["dump"]);
    assert!(err.contains("no capture files given"), "{err}");
    let err = refused(&["inventory", "--format", "xml"]);
    assert!(err.contains("--format \"xml\": json or table"), "{err}");
    let err = refused(&["serve", "--dhcp", "maybe"]);
    assert!(err.contains("--dhcp \"maybe\": auto, full, proxy or off"), "{err}");
    let err = refused(&["serve", "--fast-path", "52:54:00"]);
    assert!(err.contains("--fast-path \"52:54:00\": a MAC or `all`"), "{err}");
}
