//! Arbitrary input sequences to the agent's state machine, on an arbitrary command line: no
//! panic, and never a power-off unless an upload was acknowledged with 201 first.
#![no_main]

use agent::machine::{Action, Agent, Cmdline, Facts, Failure, Input, Manifest, Output};
use libfuzzer_sys::fuzz_target;
use netboot_proto::Mac;
use std::net::Ipv4Addr;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let split = usize::from(split).min(rest.len());
    let (line, mut ops) = rest.split_at(split);
    let cmdline = Cmdline::parse(&String::from_utf8_lossy(line));
    let facts = Facts {
        cmdline,
        mac: Mac([0x52, 0x54, 0, 0, 0, 1]),
        ipmi: ops.first().is_some_and(|b| b & 1 == 1),
        boot_unix_ms: 0,
        version: 1,
    };
    let mut agent = Agent::new(facts, 0);
    let mut now = 0u64;
    let mut acked = false;
    let check = |agent: &mut Agent, acked: bool| {
        while let Some(o) = agent.poll_output() {
            if let Output::Action(Action::PowerOff) = o {
                assert!(acked, "power-off before an acknowledged upload");
            }
        }
    };
    check(&mut agent, acked);
    while let [op, arg, tail @ ..] = ops {
        ops = tail;
        now += u64::from(*arg) * 97;
        let ip = Ipv4Addr::new(10, 0, 0, *arg);
        let input = match op % 11 {
            0 => {
                let n = usize::from(*arg).min(ops.len());
                let (d, t) = ops.split_at(n);
                ops = t;
                Some(Input::Beacon { from: ip, data: d.to_vec() })
            }
            1 => Some(Input::ProbeResult { foreign_dhcp: (arg & 1 == 1).then_some(ip) }),
            2 => Some(Input::ServeStarted(if arg & 1 == 1 { Ok(ip) } else { Err(Failure::Local("x".into())) })),
            3 => Some(Input::Manifest(if arg & 1 == 1 {
                Ok((
                    ip,
                    Manifest {
                        upload_url: "http://x/{mac}".into(),
                        poweroff: ["always", "never", "auto", "??"]
                            .get(usize::from(arg >> 1) % 4)
                            .map(|s| s.to_string()),
                        token: (arg & 8 == 8).then(|| "ab".to_owned()),
                        durable: arg & 16 == 0,
                        master: (arg & 32 == 32).then(|| format!("52:54:00:00:00:{:02x}", arg >> 6)),
                    },
                ))
            } else {
                Err(Failure::Status(503))
            })),
            4 => {
                Some(Input::InventoryDone(if arg & 1 == 1 { Ok(vec![*arg]) } else { Err(Failure::Local("x".into())) }))
            }
            5 => {
                let status = [201u16, 200, 400, 401, 413, 500][usize::from(*arg) % 6];
                if status == 201 {
                    acked = true;
                }
                Some(Input::UploadResult(Ok(status)))
            }
            6 => Some(Input::UploadResult(Err(Failure::Network("refused".into())))),
            7 => {
                if let Some(t) = agent.next_deadline() {
                    now = now.max(t);
                }
                None
            }
            8 => Some(Input::MasterChecked(if arg & 1 == 1 { Ok(()) } else { Err(Failure::Network("x".into())) })),
            9 => Some(Input::MasterStopped(if arg & 1 == 1 {
                Ok("stopped".into())
            } else {
                Err(Failure::Local("x".into()))
            })),
            10 => Some(Input::HostSeen { ip, mac: Mac([2, 0, 0, 0, 0, *arg]) }),
            _ => None,
        };
        match input {
            Some(i) => agent.handle_input(now, i),
            None => agent.handle_timeout(now),
        }
        check(&mut agent, acked);
    }
});
