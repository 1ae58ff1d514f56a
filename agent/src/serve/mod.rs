//! The master's services as cores without sockets: each decides what a request gets; the
//! runtime (`crate::runtime`) does the I/O.

pub(crate) mod dhcp;
pub(crate) mod dns;
pub(crate) mod http;
pub(crate) mod store;
pub(crate) mod tftp;
