//! `recon`: one binary for every role in the story (see README.md).
//!
//! Subcommands grow with the project; today:
//! - `recon dump FILE...`: decode the DHCP traffic in pcap/pcapng captures.

#![forbid(unsafe_code)]

mod dump;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: recon <command> [args]

commands:
  dump FILE...   decode the DHCP traffic in pcap or pcapng capture files
  version        print the version

options:
  -h, --help     this text";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("recon: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let command = match parser.next()? {
        Some(Value(v)) => v.string()?,
        Some(Short('h') | Long("help")) | None => {
            println!("{USAGE}");
            return Ok(ExitCode::SUCCESS);
        }
        Some(Long("version")) => "version".to_owned(),
        Some(other) => return Err(other.unexpected().into()),
    };
    match command.as_str() {
        "dump" => {
            let mut files = Vec::new();
            while let Some(arg) = parser.next()? {
                match arg {
                    Value(v) => files.push(PathBuf::from(v)),
                    Short('h') | Long("help") => {
                        println!("usage: recon dump FILE...");
                        return Ok(ExitCode::SUCCESS);
                    }
                    other => return Err(other.unexpected().into()),
                }
            }
            anyhow::ensure!(!files.is_empty(), "dump: no capture files given\n\n{USAGE}");
            let counts = dump::run(&files)?;
            // Malformed DHCP is what the tool exists to show, not a failure of the tool.
            let _ = counts;
            Ok(ExitCode::SUCCESS)
        }
        "version" => {
            println!("recon {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        other => anyhow::bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}
