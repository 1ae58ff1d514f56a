//! The only async code: sockets, timers and tasks on smol (the HTTP workers on `local`, a
//! reactor per thread), driving the sans-IO cores of
//! `netboot_proto` and `crate::serve`.

pub(crate) mod agent;
pub(crate) mod dhcp;
pub(crate) mod dns;
pub(crate) mod files;
pub(crate) mod http;
pub(crate) mod http_client;
pub(crate) mod local;
pub(crate) mod netlink;
pub(crate) mod tftp;
pub(crate) mod udp;
