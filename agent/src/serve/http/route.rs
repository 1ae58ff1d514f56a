//! What a request is for: the boot script, the node API, or a file.

use netboot_proto::Mac;

use super::head::{Method, Reject, Request, query_param};

/// What a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /boot.ipxe[?mac=M]`: the node's iPXE script.
    BootScript {
        /// The `mac` query parameter.
        mac: Option<Mac>,
    },
    /// `GET /api/v1/nodes`: every node's timeline.
    Nodes,
    /// `GET /api/v1/nodes/{mac}/inventory`: the stored inventory.
    Inventory {
        /// The node.
        mac: Mac,
    },
    /// `POST /api/v1/nodes/{mac}/inventory`: an upload.
    Upload {
        /// The node.
        mac: Mac,
    },
    /// `GET /api/v1/manifest`: what a peer needs to upload (machine::Manifest).
    Manifest,
    /// `GET /api/v1/stats`: each service's counters (requests, replies, what was dropped).
    Stats,
    /// `GET /api/v1/fleet`: every node in words, counts and the newest events (the board).
    Fleet,
    /// `POST /api/v1/finish`: the operator's finish (only from the master itself).
    Finish,
    /// `POST /api/v1/nodes/{mac}/events`: an agent's state machine event.
    Events {
        /// The node.
        mac: Mac,
    },
    /// GET or HEAD of a file under the boot directory.
    Static,
}

/// Routes a request; a refusal says why.
pub fn route(req: &Request) -> Result<Route, Reject> {
    let read_only = |m: Method, r: Route| match m {
        Method::Get | Method::Head => Ok(r),
        _ => Err(not_allowed(m, "GET, HEAD")),
    };
    let path = req.path.as_slice();
    if path == b"/boot.ipxe" {
        let mac = match query_param(&req.query, "mac") {
            None => None,
            Some(m) => Some(Mac::parse(&m).ok_or_else(|| Reject::new(400, format!("mac={m:?} is not a MAC address")))?),
        };
        return read_only(req.method, Route::BootScript { mac });
    }
    if let Some(api) = path.strip_prefix(b"/api/") {
        let parts: Vec<&[u8]> = api.split(|&b| b == b'/').filter(|p| !p.is_empty()).collect();
        return match parts.as_slice() {
            [b"v1", b"nodes"] => read_only(req.method, Route::Nodes),
            [b"v1", b"manifest"] => read_only(req.method, Route::Manifest),
            [b"v1", b"stats"] => read_only(req.method, Route::Stats),
            [b"v1", b"fleet"] => read_only(req.method, Route::Fleet),
            [b"v1", b"finish"] => match req.method {
                Method::Post => Ok(Route::Finish),
                m => Err(not_allowed(m, "POST")),
            },
            [b"v1", b"nodes", mac, b"events"] => {
                let shown = String::from_utf8_lossy(mac);
                let mac =
                    Mac::parse(&shown).ok_or_else(|| Reject::new(400, format!("{shown:?} is not a MAC address")))?;
                match req.method {
                    Method::Post => Ok(Route::Events { mac }),
                    m => Err(not_allowed(m, "POST")),
                }
            }
            [b"v1", b"nodes", mac, b"inventory"] => {
                let shown = String::from_utf8_lossy(mac);
                let mac =
                    Mac::parse(&shown).ok_or_else(|| Reject::new(400, format!("{shown:?} is not a MAC address")))?;
                match req.method {
                    Method::Get | Method::Head => Ok(Route::Inventory { mac }),
                    Method::Post => Ok(Route::Upload { mac }),
                    m => Err(not_allowed(m, "GET, HEAD, POST")),
                }
            }
            _ => Err(Reject::new(404, format!("no API at {}", req.path_str()))),
        };
    }
    read_only(req.method, Route::Static)
}

fn not_allowed(m: Method, allow: &'static str) -> Reject {
    if m == Method::Unknown {
        Reject::new(501, "method not implemented")
    } else {
        Reject { status: 405, reason: format!("allowed here: {allow}"), allow: Some(allow) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::http::testing::req;

    #[test]
    fn routes() {
        let r = |m: &str, p: &str| route(&req(&format!("{m} {p} HTTP/1.1\r\nHost: m\r\n\r\n")));
        assert_eq!(r("GET", "/boot.ipxe"), Ok(Route::BootScript { mac: None }));
        assert_eq!(
            r("GET", "/boot.ipxe?x=1&mac=52-54-00-AB-CD-EF"),
            Ok(Route::BootScript { mac: Mac::parse("52:54:00:ab:cd:ef") })
        );
        assert_eq!(r("GET", "/boot.ipxe?mac=nope").unwrap_err().status, 400);
        assert_eq!(r("GET", "/api/v1/nodes"), Ok(Route::Nodes));
        assert_eq!(r("GET", "/api/v1/stats"), Ok(Route::Stats));
        assert_eq!(r("POST", "/api/v1/stats").unwrap_err().status, 405);
        assert_eq!(
            r("POST", "/api/v1/nodes/52:54:00:00:00:01/inventory"),
            Ok(Route::Upload { mac: Mac([0x52, 0x54, 0, 0, 0, 1]) })
        );
        assert_eq!(
            r("HEAD", "/api/v1/nodes/52-54-00-00-00-01/inventory"),
            Ok(Route::Inventory { mac: Mac([0x52, 0x54, 0, 0, 0, 1]) })
        );
        assert_eq!(r("POST", "/api/v1/nodes/../inventory").unwrap_err().status, 400);
        assert_eq!(r("GET", "/api/v2/x").unwrap_err().status, 404);
        assert_eq!(r("GET", "/vmlinuz"), Ok(Route::Static));
        let e = r("PUT", "/vmlinuz").unwrap_err();
        assert_eq!((e.status, e.allow), (405, Some("GET, HEAD")));
        assert_eq!(r("BREW", "/vmlinuz").unwrap_err().status, 501);
        assert_eq!(
            r("DELETE", "/api/v1/nodes/52:54:00:00:00:01/inventory").unwrap_err().allow,
            Some("GET, HEAD, POST")
        );
    }
}
