//! `recon`: one binary for every role in the story. The work is in the library (`agent::cli`).

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    agent::cli::main()
}
