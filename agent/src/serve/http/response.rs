//! Response heads: status lines and reason phrases ([RFC 9110, section 15]), `Date`
//! ([section 6.6.1]), connection management ([RFC 9112, section 9.3]).
//!
//! [RFC 9110, section 15]: https://www.rfc-editor.org/rfc/rfc9110#section-15
//! [section 6.6.1]: https://www.rfc-editor.org/rfc/rfc9110#section-6.6.1
//! [RFC 9112, section 9.3]: https://www.rfc-editor.org/rfc/rfc9112#section-9.3

use std::fmt::Write as _;

use super::head::Reject;
use crate::serve::time::http_date;

/// The reason phrase sent with a status (RFC 9110, section 15).
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        _ => "",
    }
}

/// A response head being built.
#[derive(Debug, Clone)]
pub struct Head {
    /// The status.
    pub status: u16,
    /// Fields besides Date, Server, Connection and Content-Length.
    pub fields: Vec<(&'static str, String)>,
    /// `Content-Length` (`None` only for 304).
    pub content_length: Option<u64>,
}

impl Head {
    /// A head with this status and an empty body.
    pub fn new(status: u16) -> Head {
        Head { status, fields: Vec::new(), content_length: Some(0) }
    }

    /// Adds a field.
    pub fn field(mut self, name: &'static str, value: impl Into<String>) -> Head {
        self.fields.push((name, value.into()));
        self
    }

    /// Serialises the head. `keep_alive` says whether the connection stays open after it;
    /// `http10` whether the client must be told so explicitly (RFC 9112, section 9.3).
    pub fn encode(&self, keep_alive: bool, http10: bool, now: u64) -> Vec<u8> {
        let mut s = String::with_capacity(256);
        // Always HTTP/1.1: the highest version this server conforms to (RFC 9110, section 6.2).
        let _ = write!(s, "HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        let _ = write!(s, "Date: {}\r\nServer: recon/{}\r\n", http_date(now), env!("CARGO_PKG_VERSION"));
        for (k, v) in &self.fields {
            let _ = write!(s, "{k}: {v}\r\n");
        }
        if let Some(n) = self.content_length {
            let _ = write!(s, "Content-Length: {n}\r\n");
        }
        if !keep_alive {
            s.push_str("Connection: close\r\n");
        } else if http10 {
            s.push_str("Connection: keep-alive\r\n");
        }
        s.push_str("\r\n");
        s.into_bytes()
    }
}

/// A short text response: the status line's meaning and one line of reason.
pub fn text_response(status: u16, reason_text: &str) -> (Head, Vec<u8>) {
    let body = format!("{status} {}: {reason_text}\n", reason(status)).into_bytes();
    let mut head = Head::new(status).field("Content-Type", "text/plain; charset=utf-8");
    head.content_length = Some(body.len() as u64);
    (head, body)
}

/// The response to a [`Reject`], with the fields its status requires.
pub fn reject_response(r: &Reject) -> (Head, Vec<u8>) {
    let (mut head, body) = text_response(r.status, &r.reason);
    if let Some(allow) = r.allow {
        head = head.field("Allow", allow);
    }
    if r.status == 401 {
        head = head.field("WWW-Authenticate", "Bearer realm=\"recon\"");
    }
    (head, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_heads() {
        let mut h = Head::new(206).field("Content-Range", "bytes 0-0/1");
        h.content_length = Some(1);
        let text = String::from_utf8(h.encode(true, false, 784_111_777)).unwrap();
        assert!(text.starts_with("HTTP/1.1 206 Partial Content\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"), "{text}");
        assert!(text.ends_with("Content-Range: bytes 0-0/1\r\nContent-Length: 1\r\n\r\n"), "{text}");
        assert!(String::from_utf8(h.encode(true, true, 0)).unwrap().contains("Connection: keep-alive\r\n"));
        assert!(String::from_utf8(h.encode(false, false, 0)).unwrap().contains("Connection: close\r\n"));
        let (h, body) = reject_response(&Reject::new(401, "bad token"));
        let text = String::from_utf8(h.encode(false, false, 0)).unwrap();
        assert!(text.contains("WWW-Authenticate: Bearer") && text.contains("Content-Length: 28\r\n"), "{text}");
        assert_eq!(body, b"401 Unauthorized: bad token\n");
    }
}
