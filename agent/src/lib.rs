//! recon's agent as a library: everything the `recon` binary does, for the binary
//! (`src/main.rs`, which only calls [`cli::main`]), the fuzz targets and the tests.
//!
//! - [`machine`]: the agent's typed state machine (Probe → Elect → Serve | Fetch → Inventory →
//!   Upload → Poweroff), no I/O;
//! - [`serve`]: the master's services as sans-IO cores (DHCP, TFTP, DNS, HTTP, the node records);
//! - `runtime`: the only async code (smol), sockets, timers, files and threads;
//! - [`report`]: the fleet table and the report files, from the node records;
//! - [`board`]: the operator's live view;
//! - [`cli`]: the command line.
//!
//! docs/ARCHITECTURE.md draws the whole.

#![forbid(unsafe_code)]

pub mod board;
pub mod cli;
mod dump;
pub mod machine;
mod master;
pub mod report;
mod runtime;
pub mod serve;

/// A master's data directory read back: its fleet view and every node's record (what `recon
/// report` makes the reports from; the stick check prints the table of a stick's RECONDATA).
pub use runtime::report::load as load_data;
