//! Request heads: the request line and fields ([RFC 9112, section 3] and [section 5]) parsed by
//! httparse, the framing of a body ([RFC 9112, section 6]), and the query of a target.
//!
//! [RFC 9112, section 3]: https://www.rfc-editor.org/rfc/rfc9112#section-3
//! [section 5]: https://www.rfc-editor.org/rfc/rfc9112#section-5
//! [RFC 9112, section 6]: https://www.rfc-editor.org/rfc/rfc9112#section-6

/// Header fields read from one request; more is a 431.
pub const MAX_HEADERS: usize = 64;
/// Octets in one request head (request line and fields); more is a 431.
pub const MAX_HEAD: usize = 16 * 1024;

/// A request method, as far as routing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// POST.
    Post,
    /// A method [RFC 9110, section 9](https://www.rfc-editor.org/rfc/rfc9110#section-9) defines
    /// that this server does not serve (405).
    Known,
    /// Anything else (501).
    Unknown,
}

impl Method {
    fn parse(m: &str) -> Method {
        // Method names are case-sensitive (RFC 9110, section 9.1).
        match m {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" | "DELETE" | "CONNECT" | "OPTIONS" | "TRACE" | "PATCH" => Method::Known,
            _ => Method::Unknown,
        }
    }
}

/// A request head, with the fields this server acts on.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The method as sent, for logs.
    pub method_name: String,
    /// The request target as sent, for logs.
    pub target: String,
    /// The target's path, percent-decoded (may not be UTF-8).
    pub path: Vec<u8>,
    /// The target's query, not decoded (empty if none).
    pub query: String,
    /// HTTP/1.0 rather than HTTP/1.1.
    pub http10: bool,
    /// The connection closes after the response (RFC 9112, section 9.3).
    pub close: bool,
    /// `Content-Length`.
    pub content_length: Option<u64>,
    /// `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// The upload token: `Authorization: Bearer T` or `X-Recon-Token: T`.
    pub token: Option<String>,
    /// `Range`.
    pub range: Option<String>,
    /// `If-Modified-Since`.
    pub if_modified_since: Option<String>,
    /// `If-Range`.
    pub if_range: Option<String>,
    /// `Expect: 100-continue` on an HTTP/1.1 request (RFC 9110, section 10.1.1 says to ignore
    /// it from HTTP/1.0 clients).
    pub expect_continue: bool,
    /// Octets of the head, the blank line included; the body (if any) starts there.
    pub head_len: usize,
}

impl Request {
    /// Whether a body follows the head.
    pub fn has_body(&self) -> bool {
        self.chunked || self.content_length.is_some_and(|n| n > 0)
    }

    /// The path for logs and messages.
    pub fn path_str(&self) -> String {
        String::from_utf8_lossy(&self.path).into_owned()
    }
}

/// A request refused before it reached a handler: the status and a one-line reason for the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The status code.
    pub status: u16,
    /// Why, in words the client's user can act on.
    pub reason: String,
    /// For 405: the methods the resource allows.
    pub allow: Option<&'static str>,
}

impl Reject {
    /// A refusal with this status and reason.
    pub fn new(status: u16, reason: impl Into<String>) -> Reject {
        Reject { status, reason: reason.into(), allow: None }
    }
}

/// Parses a request head from the start of `buf`: `Ok(None)` if more octets are needed.
pub fn parse_head(buf: &[u8]) -> Result<Option<Request>, Reject> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut fields);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return if buf.len() > MAX_HEAD {
                Err(Reject::new(431, format!("the request head is over {MAX_HEAD} octets")))
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Reject::new(431, format!("more than {MAX_HEADERS} header fields")));
        }
        // httparse knows HTTP/1.0 and HTTP/1.1 only (RFC 9110, section 15.6.6).
        Err(httparse::Error::Version) => return Err(Reject::new(505, "only HTTP/1.0 and HTTP/1.1 are served")),
        Err(e) => return Err(Reject::new(400, format!("malformed request head: {e}"))),
    };
    if head_len > MAX_HEAD {
        return Err(Reject::new(431, format!("the request head is over {MAX_HEAD} octets")));
    }
    let method_name = req.method.unwrap_or_default().to_owned();
    let target = req.path.unwrap_or_default().to_owned();
    let http10 = req.version == Some(0);
    let (path, query) = split_target(&target)?;
    let mut r = Request {
        method: Method::parse(&method_name),
        method_name,
        target,
        path,
        query,
        http10,
        close: http10,
        content_length: None,
        chunked: false,
        content_type: None,
        token: None,
        range: None,
        if_modified_since: None,
        if_range: None,
        expect_continue: false,
        head_len,
    };
    let mut hosts = 0;
    let mut transfer_encoding = None::<String>;
    for f in req.headers.iter() {
        let value = std::str::from_utf8(f.value).map_err(|_| Reject::new(400, format!("{}: not text", f.name)))?;
        let value = value.trim_matches([' ', '\t']);
        let name = f.name;
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("connection") {
            // A list of options (RFC 9110, section 7.6.1).
            for opt in value.split(',').map(str::trim) {
                if opt.eq_ignore_ascii_case("close") {
                    r.close = true;
                } else if opt.eq_ignore_ascii_case("keep-alive") && r.http10 {
                    r.close = false;
                }
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            // A list of identical values may be taken as one (RFC 9112, section 6.3, item 5);
            // anything else is a framing error.
            for v in value.split(',').map(str::trim) {
                let n = parse_decimal(v).ok_or_else(|| Reject::new(400, format!("Content-Length {value:?}")))?;
                if r.content_length.is_some_and(|m| m != n) {
                    return Err(Reject::new(400, "two different Content-Length values"));
                }
                r.content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let all = transfer_encoding.get_or_insert_with(String::new);
            if !all.is_empty() {
                all.push(',');
            }
            all.push_str(value);
        } else if name.eq_ignore_ascii_case("content-type") {
            r.content_type = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("authorization") {
            // "Bearer" is case-insensitive (RFC 9110, section 11.1).
            if let Some((scheme, tok)) = value.split_once(' ')
                && scheme.eq_ignore_ascii_case("bearer")
            {
                r.token = Some(tok.trim().to_owned());
            }
        } else if name.eq_ignore_ascii_case("x-recon-token") {
            r.token = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("range") {
            r.range = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("if-modified-since") {
            r.if_modified_since = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("if-range") {
            r.if_range = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("expect") {
            if value.eq_ignore_ascii_case("100-continue") {
                r.expect_continue = !r.http10;
            } else {
                return Err(Reject::new(417, format!("Expect: {value}: only 100-continue is understood")));
            }
        }
    }
    if !r.http10 && hosts != 1 {
        return Err(Reject::new(400, if hosts == 0 { "no Host field" } else { "more than one Host field" }));
    }
    if let Some(te) = transfer_encoding {
        // RFC 9112, section 6.1: chunked must be last; this server decodes nothing else.
        let codings: Vec<&str> = te.split(',').map(str::trim).filter(|c| !c.is_empty()).collect();
        if r.content_length.is_some() {
            return Err(Reject::new(400, "both Content-Length and Transfer-Encoding"));
        }
        if r.http10 {
            return Err(Reject::new(400, "Transfer-Encoding in an HTTP/1.0 request"));
        }
        if codings.len() != 1 || !codings.first().is_some_and(|c| c.eq_ignore_ascii_case("chunked")) {
            return Err(Reject::new(501, format!("Transfer-Encoding {te:?}: only chunked is understood")));
        }
        r.chunked = true;
    }
    Ok(Some(r))
}

/// Digits only (RFC 9110, section 8.6: `1*DIGIT`), no sign, no overflow.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Splits a request target into the decoded path and the raw query. Origin form (`/p?q`) and
/// absolute form (`http://host/p?q`, RFC 9112, section 3.2.2) are accepted.
fn split_target(target: &str) -> Result<(Vec<u8>, String), Reject> {
    let rest = if target.starts_with('/') {
        target
    } else if let Some(after) = target.get(..7).filter(|s| s.eq_ignore_ascii_case("http://")).map(|_| &target[7..]) {
        after.find('/').map_or("/", |i| &after[i..])
    } else {
        return Err(Reject::new(400, format!("request target {target:?} is not a path")));
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = percent_decode(path).ok_or_else(|| Reject::new(400, format!("bad percent-encoding in {path:?}")))?;
    if path.contains(&0) {
        return Err(Reject::new(400, "NUL in the path"));
    }
    Ok((path, query.to_owned()))
}

/// `%XX` decoding (RFC 3986, section 2.1); `None` for a broken escape.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Some(out)
}

/// The value of `name` in an `a=b&c=d` query, percent-decoded.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| percent_decode(v).map(|v| String::from_utf8_lossy(&v).into_owned())).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::http::testing::{get, req};

    #[test]
    fn heads_parse_with_framing_and_keep_alive_rules() {
        let r = get("/a%20b?x=1", "");
        assert_eq!((r.method, r.path.as_slice(), r.query.as_str(), r.close), (Method::Get, &b"/a b"[..], "x=1", false));
        assert!(get("/", "Connection: keep-alive, Close\r\n").close);
        let r = req("GET / HTTP/1.0\r\n\r\n");
        assert!(r.http10 && r.close, "HTTP/1.0 closes by default");
        assert!(!req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").close);
        assert_eq!(req("GET http://10.0.0.1:8080/x?y HTTP/1.1\r\nHost: a\r\n\r\n").path, b"/x");
        // Pipelined: head_len stops at the first request's blank line.
        let two = b"GET /a HTTP/1.1\r\nHost: m\r\n\r\nGET /b HTTP/1.1\r\nHost: m\r\n\r\n";
        let a = parse_head(two).unwrap().unwrap();
        assert_eq!(a.path, b"/a");
        assert_eq!(parse_head(&two[a.head_len..]).unwrap().unwrap().path, b"/b");
        assert!(parse_head(b"GET / HTTP/1.1\r\nHost: m\r\n").unwrap().is_none());
        let p = req(
            "POST /x HTTP/1.1\r\nHost: m\r\nContent-Length: 5, 5\r\nExpect: 100-Continue\r\nAuthorization: bearer abc\r\n\r\n",
        );
        assert_eq!((p.content_length, p.expect_continue, p.token.as_deref()), (Some(5), true, Some("abc")));
        assert!(req("POST /x HTTP/1.1\r\nHost: m\r\nTransfer-Encoding: chunked\r\n\r\n").chunked);
    }

    #[test]
    fn bad_heads_get_the_status_the_rfcs_name() {
        let status = |t: &str| parse_head(t.as_bytes()).unwrap_err().status;
        assert_eq!(status("GET / HTTP/1.1\r\n\r\n"), 400, "HTTP/1.1 without Host");
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n"), 400);
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400,
            "both framings: a smuggling attempt"
        );
        assert_eq!(status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501);
        assert_eq!(status("GET / HTTP/2.0\r\n\r\n"), 505);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a\r\nExpect: tea\r\n\r\n"), 417);
        assert_eq!(status("GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET /a%00 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET x HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        let many: String = (0..70).map(|i| format!("X-{i}: y\r\n")).collect();
        assert_eq!(status(&format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n")), 431);
        let long = format!("GET /{} HTTP/1.1\r\nHost: a\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(status(&long), 431, "an endless head is cut off");
    }
}
