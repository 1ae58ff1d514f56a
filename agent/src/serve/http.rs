//! The HTTP server's decisions, with no sockets: parsing a request head ([`parse_head`]),
//! routing it ([`route`]), answering a file with or without a byte range ([`plan_file`]),
//! building response heads ([`Head`]), the per-node iPXE script ([`boot_script`]), upload tokens
//! ([`TokenKey`]) and upload validation ([`decode_upload`]). The runtime (`runtime::http`) reads
//! and writes the sockets and files and calls these.
//!
//! What the server speaks (HTTP/1.1 only, as an origin server):
//! - message syntax and framing per [RFC 9112]: request line and fields parsed by httparse;
//!   `Content-Length` or `Transfer-Encoding: chunked` request bodies ([RFC 9112, section 6]; a
//!   request with both, or with a coding other than chunked, is refused and the connection
//!   closed, as section 6.3 allows, so no request can be smuggled past the framing); a missing
//!   `Host` in HTTP/1.1 is a 400 ([RFC 9112, section 3.2]);
//! - persistent connections per [RFC 9112, section 9.3]: HTTP/1.1 stays open unless either side
//!   says `Connection: close`, HTTP/1.0 closes unless the client says `keep-alive`; requests may be
//!   pipelined and are answered in order;
//! - GET and HEAD on files with `Content-Length`, `Last-Modified` and `If-Modified-Since`
//!   ([RFC 9110, section 13.1.3]), and single byte ranges ([RFC 9110, section 14]): `bytes=a-b`,
//!   `a-` and `-n` get 206 with `Content-Range`, an unsatisfiable one 416 with `bytes */len`. A
//!   request for several ranges gets the whole file with 200, which section 14.2 allows ("a
//!   server MAY ignore the Range header field"), as does an invalid range or an `If-Range` that
//!   does not match (section 13.1.5); HEAD ignores Range (section 14.2: GET is the only method
//!   range handling is defined for);
//! - methods it does not serve get 405 with `Allow` (section 15.5.6), unknown ones 501 (section
//!   9.1); a 401 carries `WWW-Authenticate: Bearer` (section 11.6.1); every response has `Date`
//!   (section 6.6.1).
//!
//! [RFC 9112]: https://www.rfc-editor.org/rfc/rfc9112
//! [RFC 9112, section 6]: https://www.rfc-editor.org/rfc/rfc9112#section-6
//! [RFC 9112, section 3.2]: https://www.rfc-editor.org/rfc/rfc9112#section-3.2
//! [RFC 9112, section 9.3]: https://www.rfc-editor.org/rfc/rfc9112#section-9.3
//! [RFC 9110, section 13.1.3]: https://www.rfc-editor.org/rfc/rfc9110#section-13.1.3
//! [RFC 9110, section 14]: https://www.rfc-editor.org/rfc/rfc9110#section-14

use std::fmt::Write as _;

use hmac::{KeyInit, Mac};

use super::store::node_id;

/// Header fields read from one request; more is a 431.
pub(crate) const MAX_HEADERS: usize = 64;
/// Octets in one request head (request line and fields); more is a 431.
pub(crate) const MAX_HEAD: usize = 16 * 1024;

//--- Requests

/// A request method, as far as routing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
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
pub(crate) struct Request {
    /// The method.
    pub(crate) method: Method,
    /// The method as sent, for logs.
    pub(crate) method_name: String,
    /// The request target as sent, for logs.
    pub(crate) target: String,
    /// The target's path, percent-decoded (may not be UTF-8).
    pub(crate) path: Vec<u8>,
    /// The target's query, not decoded (empty if none).
    pub(crate) query: String,
    /// HTTP/1.0 rather than HTTP/1.1.
    pub(crate) http10: bool,
    /// The connection closes after the response (RFC 9112, section 9.3).
    pub(crate) close: bool,
    /// `Content-Length`.
    pub(crate) content_length: Option<u64>,
    /// `Transfer-Encoding: chunked`.
    pub(crate) chunked: bool,
    /// `Content-Type`.
    pub(crate) content_type: Option<String>,
    /// The upload token: `Authorization: Bearer T` or `X-Recon-Token: T`.
    pub(crate) token: Option<String>,
    /// `Range`.
    pub(crate) range: Option<String>,
    /// `If-Modified-Since`.
    pub(crate) if_modified_since: Option<String>,
    /// `If-Range`.
    pub(crate) if_range: Option<String>,
    /// `Expect: 100-continue` on an HTTP/1.1 request (RFC 9110, section 10.1.1 says to ignore
    /// it from HTTP/1.0 clients).
    pub(crate) expect_continue: bool,
    /// Octets of the head, the blank line included; the body (if any) starts there.
    pub(crate) head_len: usize,
}

impl Request {
    /// Whether a body follows the head.
    pub(crate) fn has_body(&self) -> bool {
        self.chunked || self.content_length.is_some_and(|n| n > 0)
    }

    /// The path for logs and messages.
    pub(crate) fn path_str(&self) -> String {
        String::from_utf8_lossy(&self.path).into_owned()
    }
}

/// A request refused before it reached a handler: the status and a one-line reason for the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reject {
    /// The status code.
    pub(crate) status: u16,
    /// Why, in words the client's user can act on.
    pub(crate) reason: String,
    /// For 405: the methods the resource allows.
    pub(crate) allow: Option<&'static str>,
}

impl Reject {
    pub(crate) fn new(status: u16, reason: impl Into<String>) -> Reject {
        Reject { status, reason: reason.into(), allow: None }
    }
}

/// Parses a request head from the start of `buf`: `Ok(None)` if more octets are needed.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<Request>, Reject> {
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
        if codings.len() != 1 || !codings[0].eq_ignore_ascii_case("chunked") {
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
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| percent_decode(v).map(|v| String::from_utf8_lossy(&v).into_owned())).flatten()
    })
}

//--- Routing

/// What a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `GET /boot.ipxe[?mac=M]`: the node's iPXE script.
    BootScript {
        /// The `mac` query parameter, as `aa:bb:cc:dd:ee:ff`.
        mac: Option<String>,
    },
    /// `GET /api/v1/nodes`: every node's timeline.
    Nodes,
    /// `GET /api/v1/nodes/{mac}/inventory`: the stored inventory.
    Inventory {
        /// `aa:bb:cc:dd:ee:ff`.
        mac: String,
    },
    /// `POST /api/v1/nodes/{mac}/inventory`: an upload.
    Upload {
        /// `aa:bb:cc:dd:ee:ff`.
        mac: String,
    },
    /// `GET /api/v1/manifest`: what a peer needs to upload (machine::Manifest).
    Manifest,
    /// `GET /api/v1/stats`: each service's counters (requests, replies, what was dropped).
    Stats,
    /// `POST /api/v1/nodes/{mac}/events`: an agent's state machine event.
    Events {
        /// `aa:bb:cc:dd:ee:ff`.
        mac: String,
    },
    /// GET or HEAD of a file under the boot directory.
    Static,
}

/// `52-54-00-..` or `52:54:00:..` (any case) as `52:54:00:..` in lower case.
pub(crate) fn colon_mac(mac: &str) -> Option<String> {
    node_id(mac).map(|id| id.replace('-', ":"))
}

/// Routes a request; a refusal says why.
pub(crate) fn route(req: &Request) -> Result<Route, Reject> {
    let read_only = |m: Method, r: Route| match m {
        Method::Get | Method::Head => Ok(r),
        _ => Err(not_allowed(m, "GET, HEAD")),
    };
    let path = req.path.as_slice();
    if path == b"/boot.ipxe" {
        let mac = match query_param(&req.query, "mac") {
            None => None,
            Some(m) => Some(colon_mac(&m).ok_or_else(|| Reject::new(400, format!("mac={m:?} is not a MAC address")))?),
        };
        return read_only(req.method, Route::BootScript { mac });
    }
    if let Some(api) = path.strip_prefix(b"/api/") {
        let parts: Vec<&[u8]> = api.split(|&b| b == b'/').filter(|p| !p.is_empty()).collect();
        return match parts.as_slice() {
            [b"v1", b"nodes"] => read_only(req.method, Route::Nodes),
            [b"v1", b"manifest"] => read_only(req.method, Route::Manifest),
            [b"v1", b"stats"] => read_only(req.method, Route::Stats),
            [b"v1", b"nodes", mac, b"events"] => {
                let shown = String::from_utf8_lossy(mac);
                let mac =
                    colon_mac(&shown).ok_or_else(|| Reject::new(400, format!("{shown:?} is not a MAC address")))?;
                match req.method {
                    Method::Post => Ok(Route::Events { mac }),
                    m => Err(not_allowed(m, "POST")),
                }
            }
            [b"v1", b"nodes", mac, b"inventory"] => {
                let shown = String::from_utf8_lossy(mac);
                let mac =
                    colon_mac(&shown).ok_or_else(|| Reject::new(400, format!("{shown:?} is not a MAC address")))?;
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

//--- Files and byte ranges

/// What the runtime knows of a file it opened.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileInfo {
    /// Its size.
    pub(crate) len: u64,
    /// Its modification time, seconds since the Unix epoch.
    pub(crate) mtime: Option<u64>,
}

/// How to answer a GET or HEAD of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FilePlan {
    /// 200, 206, 304 or 416.
    pub(crate) status: u16,
    /// Fields besides Date, Connection and Content-Length.
    pub(crate) fields: Vec<(&'static str, String)>,
    /// The `Content-Length` to send (`None` for 304).
    pub(crate) content_length: Option<u64>,
    /// The octets to send from the file: (offset, length); `None` for HEAD and bodiless answers.
    pub(crate) body: Option<(u64, u64)>,
}

/// A `Range` field's meaning for a representation of a given length ([RFC 9110, section
/// 14.1.2](https://www.rfc-editor.org/rfc/rfc9110#section-14.1.2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeAnswer {
    /// Ignore the field: send the whole representation (200). For invalid syntax, another unit,
    /// or more than one range.
    Full,
    /// Send octets `first..=last` (206).
    Partial {
        /// The first octet.
        first: u64,
        /// The last octet, included.
        last: u64,
    },
    /// No octet of the representation is in the range (416).
    Unsatisfiable,
}

/// Evaluates `bytes=...` against a representation of `len` octets.
pub(crate) fn parse_range(value: &str, len: u64) -> RangeAnswer {
    // ranges-specifier = range-unit "=" range-set; units are case-insensitive (section 14.1).
    let Some((unit, set)) = value.split_once('=') else { return RangeAnswer::Full };
    if !unit.eq_ignore_ascii_case("bytes") {
        return RangeAnswer::Full;
    }
    // range-set = 1#range-spec: a comma list, empty elements allowed (RFC 9110, section 5.6.1).
    let specs: Vec<&str> = set.split(',').map(|s| s.trim_matches([' ', '\t'])).filter(|s| !s.is_empty()).collect();
    let [spec] = specs.as_slice() else { return RangeAnswer::Full };
    let Some((first, last)) = spec.split_once('-') else { return RangeAnswer::Full };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // Values too large for u64 are past any file: saturate rather than fail.
    let num = |s: &str| s.parse::<u64>().unwrap_or(u64::MAX);
    if first.is_empty() {
        // suffix-range = "-" suffix-length: the last n octets (section 14.1.2).
        if !digits(last) {
            return RangeAnswer::Full;
        }
        let n = num(last);
        if n == 0 {
            return RangeAnswer::Unsatisfiable;
        }
        if len == 0 {
            // Satisfiable but empty (section 14.1.1): the whole, empty representation.
            return RangeAnswer::Full;
        }
        return RangeAnswer::Partial { first: len.saturating_sub(n), last: len - 1 };
    }
    if !digits(first) || !(last.is_empty() || digits(last)) {
        return RangeAnswer::Full;
    }
    let first = num(first);
    let last = if last.is_empty() { u64::MAX } else { num(last) };
    if last < first {
        // An invalid range-spec (section 14.1.1): the field is ignored.
        return RangeAnswer::Full;
    }
    if first >= len {
        return RangeAnswer::Unsatisfiable;
    }
    RangeAnswer::Partial { first, last: last.min(len - 1) }
}

/// Decides the answer to a GET or HEAD of a file, at `now` (Unix seconds).
pub(crate) fn plan_file(req: &Request, info: FileInfo, now: u64) -> FilePlan {
    let mut fields = vec![("Accept-Ranges", "bytes".to_owned())];
    // A modification time in the future is not sent as such (RFC 9110, section 8.8.2.1).
    let mtime = info.mtime.map(|m| m.min(now));
    let last_modified = mtime.map(http_date);
    if let Some(lm) = &last_modified {
        fields.push(("Last-Modified", lm.clone()));
    }
    // If-Modified-Since before Range (RFC 9110, section 13.2.2).
    if let (Some(m), Some(since)) = (mtime, req.if_modified_since.as_deref().and_then(parse_http_date))
        && m <= since
    {
        return FilePlan { status: 304, fields, content_length: None, body: None };
    }
    let full = |mut fields: Vec<(&'static str, String)>| {
        fields.push(("Content-Type", content_type(&req.path).to_owned()));
        FilePlan {
            status: 200,
            fields,
            content_length: Some(info.len),
            body: (req.method == Method::Get).then_some((0, info.len)),
        }
    };
    let Some(range) = req.range.as_deref().filter(|_| req.method == Method::Get) else { return full(fields) };
    // If-Range with a date matches only an exact, strong Last-Modified: one at least a second
    // older than now (RFC 9110, sections 13.1.5 and 8.8.2.2). An entity tag never matches:
    // this server sends none.
    if let Some(ir) = &req.if_range {
        let strong = mtime.is_some_and(|m| m < now);
        if !(strong && last_modified.as_deref() == Some(ir.as_str())) {
            return full(fields);
        }
    }
    match parse_range(range, info.len) {
        RangeAnswer::Full => full(fields),
        RangeAnswer::Partial { first, last } => {
            fields.push(("Content-Type", content_type(&req.path).to_owned()));
            fields.push(("Content-Range", format!("bytes {first}-{last}/{}", info.len)));
            let n = last - first + 1;
            FilePlan { status: 206, fields, content_length: Some(n), body: Some((first, n)) }
        }
        RangeAnswer::Unsatisfiable => {
            fields.push(("Content-Range", format!("bytes */{}", info.len)));
            FilePlan { status: 416, fields, content_length: Some(0), body: None }
        }
    }
}

/// A media type by file name; the boot files are all octets.
fn content_type(path: &[u8]) -> &'static str {
    let ext = path.rsplit(|&b| b == b'.').next().unwrap_or_default();
    match ext {
        b"ipxe" | b"txt" | b"cfg" => "text/plain; charset=utf-8",
        b"json" => "application/json",
        b"html" => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

//--- Dates (RFC 9110, section 5.6.7)

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Days since 1970-01-01 -> (year, month 1..=12, day 1..=31), proleptic Gregorian (Howard
/// Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The inverse of [`civil`].
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds as an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) fn http_date(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    let (y, m, d) = civil(days);
    let wd = DAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let mon = MONTHS[(m - 1) as usize];
    format!("{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02} GMT", rem / 3600, rem / 60 % 60, rem % 60)
}

/// Parses the three HTTP-date forms a recipient must accept (RFC 9110, section 5.6.7):
/// IMF-fixdate, the obsolete RFC 850 form (two-digit year, read as within 50 years of 2000)
/// and asctime. `None` if it is none of them.
pub(crate) fn parse_http_date(s: &str) -> Option<u64> {
    let month = |m: &str| MONTHS.iter().position(|x| *x == m).map(|i| i as u32 + 1);
    let time = |t: &str| -> Option<u64> {
        let mut it = t.split(':').map(|p| (p.len() == 2).then(|| p.parse::<u64>().ok()).flatten());
        let (h, mi, s) = (it.next()??, it.next()??, it.next()??);
        (it.next().is_none() && h < 24 && mi < 60 && s < 61).then_some(h * 3600 + mi * 60 + s)
    };
    let (y, m, d, t) = if let Some((_, rest)) = s.split_once(", ") {
        let parts: Vec<&str> = rest.split(' ').collect();
        match parts.as_slice() {
            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            [d, m, y, t, "GMT"] if y.len() == 4 => (y.parse().ok()?, month(m)?, d.parse().ok()?, time(t)?),
            // rfc850-date: Sunday, 06-Nov-94 08:49:37 GMT
            [dmy, t, "GMT"] => {
                let mut p = dmy.split('-');
                let (d, m, y) = (p.next()?, p.next()?, p.next()?);
                let y: i64 = y.parse().ok()?;
                (if y < 50 { 2000 + y } else { 1900 + y }, month(m)?, d.parse().ok()?, time(t)?)
            }
            _ => return None,
        }
    } else {
        // asctime-date: Sun Nov  6 08:49:37 1994
        let parts: Vec<&str> = s.split(' ').filter(|p| !p.is_empty()).collect();
        match parts.as_slice() {
            [_, m, d, t, y] => (y.parse().ok()?, month(m)?, d.parse().ok()?, time(t)?),
            _ => return None,
        }
    };
    if !(1..=31).contains(&d) || y < 1970 {
        return None;
    }
    let days = u64::try_from(days_from_civil(y, m, d)).ok()?;
    Some(days * 86_400 + t)
}

//--- Responses

/// The reason phrase sent with a status (RFC 9110, section 15).
pub(crate) fn reason(status: u16) -> &'static str {
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
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// A response head being built.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    /// The status.
    pub(crate) status: u16,
    /// Fields besides Date, Server, Connection and Content-Length.
    pub(crate) fields: Vec<(&'static str, String)>,
    /// `Content-Length` (`None` only for 304).
    pub(crate) content_length: Option<u64>,
}

impl Head {
    pub(crate) fn new(status: u16) -> Head {
        Head { status, fields: Vec::new(), content_length: Some(0) }
    }

    pub(crate) fn field(mut self, name: &'static str, value: impl Into<String>) -> Head {
        self.fields.push((name, value.into()));
        self
    }

    /// Serialises the head. `keep_alive` says whether the connection stays open after it;
    /// `http10` whether the client must be told so explicitly (RFC 9112, section 9.3).
    pub(crate) fn encode(&self, keep_alive: bool, http10: bool, now: u64) -> Vec<u8> {
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
pub(crate) fn text_response(status: u16, reason_text: &str) -> (Head, Vec<u8>) {
    let body = format!("{status} {}: {reason_text}\n", reason(status)).into_bytes();
    let mut head = Head::new(status).field("Content-Type", "text/plain; charset=utf-8");
    head.content_length = Some(body.len() as u64);
    (head, body)
}

/// The response to a [`Reject`], with the fields its status requires.
pub(crate) fn reject_response(r: &Reject) -> (Head, Vec<u8>) {
    let (mut head, body) = text_response(r.status, &r.reason);
    if let Some(allow) = r.allow {
        head = head.field("Allow", allow);
    }
    if r.status == 401 {
        head = head.field("WWW-Authenticate", "Bearer realm=\"recon\"");
    }
    (head, body)
}

//--- Chunked request bodies (RFC 9112, section 7.1)

/// A decoder for a chunked body, fed octets as they arrive.
#[derive(Debug, Default)]
pub(crate) struct Chunked {
    state: ChunkState,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

/// A chunk-size line or trailer field longer than this is refused.
const MAX_CHUNK_LINE: usize = 4096;

impl Chunked {
    /// Whether the last chunk and the trailer section have been read.
    pub(crate) fn done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decodes as much of `input` as it can into `out`, and returns the octets consumed; call
    /// again with the rest and more input until [`Chunked::done`]. A body that would exceed
    /// `limit` octets is a 413; broken framing is a 400.
    pub(crate) fn decode(&mut self, input: &[u8], out: &mut Vec<u8>, limit: u64) -> Result<usize, Reject> {
        let mut at = 0;
        loop {
            let rest = input.get(at..).unwrap_or_default();
            match self.state {
                ChunkState::Done => return Ok(at),
                ChunkState::Size => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((n, size))) => {
                        at += n;
                        if (out.len() as u64).saturating_add(size) > limit {
                            return Err(Reject::new(413, format!("the body is over the {limit}-octet limit")));
                        }
                        self.state = if size == 0 { ChunkState::Trailers } else { ChunkState::Data(size) };
                    }
                    Ok(httparse::Status::Partial) if rest.len() <= MAX_CHUNK_LINE => return Ok(at),
                    _ => return Err(Reject::new(400, "malformed chunk size line")),
                },
                ChunkState::Data(left) => {
                    if rest.is_empty() {
                        return Ok(at);
                    }
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                    out.extend_from_slice(&rest[..n]);
                    at += n;
                    let left = left - n as u64;
                    self.state = if left == 0 { ChunkState::DataEnd } else { ChunkState::Data(left) };
                }
                ChunkState::DataEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        at += 2;
                        self.state = ChunkState::Size;
                    }
                    [] | [b'\r'] => return Ok(at),
                    _ => return Err(Reject::new(400, "chunk data longer than its size")),
                },
                ChunkState::Trailers => {
                    // Trailer fields are read and dropped (RFC 9112, section 7.1.2).
                    let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
                        if rest.len() > MAX_CHUNK_LINE {
                            return Err(Reject::new(400, "trailer field too long"));
                        }
                        return Ok(at);
                    };
                    at += end + 2;
                    if end == 0 {
                        self.state = ChunkState::Done;
                    }
                }
            }
        }
    }
}

//--- boot.ipxe

/// What goes into a node's iPXE script. Names are relative to the boot directory; in `args`,
/// `{master}` becomes the master's `address[:port]` and `{iso}` the image name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BootConfig {
    /// The kernel.
    pub(crate) kernel: String,
    /// The initrd.
    pub(crate) initrd: String,
    /// The live image dracut fetches.
    pub(crate) iso: String,
    /// The seed's kernel arguments (dracut livenet: fetch the image over HTTP into RAM).
    pub(crate) args: String,
    /// More arguments after them (`console=ttyS0,115200`, ...).
    pub(crate) append: String,
    /// The arguments of the fast path instead of `args`: the agent runs in the initramfs and no
    /// image is fetched (overlay/'s 90recon dracut module).
    pub(crate) fast_args: String,
    /// Nodes (`aa:bb:..`) that take the fast path; `all` in the set means every node.
    pub(crate) fast_macs: std::collections::BTreeSet<String>,
}

impl Default for BootConfig {
    fn default() -> BootConfig {
        BootConfig {
            kernel: "vmlinuz".into(),
            initrd: "initrd.img".into(),
            iso: "recon.iso".into(),
            // rd.live.overlay.overlayfs=1: dracut 059 needs it for a squashfs that holds the root
            // tree itself (not LiveOS/rootfs.img). systemd.mask=var-lib-recon.mount: a peer
            // mounts no RECONDATA partition (its disks are not touched, and its agent does not
            // wait out the mount's 30 s device timeout first; kiwi/README.md).
            args: "root=live:http://{master}/{iso} rd.live.ram=1 rd.live.image rd.live.overlay.overlayfs=1 rd.neednet=1 ip=dhcp \
                   systemd.mask=var-lib-recon.mount"
                .into(),
            append: String::new(),
            fast_args: "rd.neednet=1 ip=dhcp recon.path=initramfs".into(),
            fast_macs: std::collections::BTreeSet::new(),
        }
    }
}

/// The script for a node the master knows: kernel and initrd from the master, the seed's
/// arguments, where it booted from (`BOOTIF`, `pxeaddr`, which the peer's agent reads to know it
/// is a peer), its upload token and where to upload. `master` is `address[:port]`, `master_ip`
/// the address alone. `${netX/mac:hexhyp}` is expanded by iPXE to the MAC of the interface it
/// booted from, dash-separated, as pxelinux's `BOOTIF=01-...` has it.
pub(crate) fn boot_script(cfg: &BootConfig, master: &str, master_ip: &str, mac: &str, token: &str) -> String {
    let fast = cfg.fast_macs.contains(mac) || cfg.fast_macs.contains("all");
    let args = if fast { &cfg.fast_args } else { &cfg.args };
    let args = args.replace("{master}", master).replace("{iso}", &cfg.iso);
    let mut line = format!("kernel http://{master}/{} initrd={} {args}", cfg.kernel, cfg.initrd);
    if !cfg.append.is_empty() {
        line.push(' ');
        line.push_str(&cfg.append);
    }
    format!(
        "#!ipxe\n{line} BOOTIF=01-${{netX/mac:hexhyp}} pxeaddr={master_ip} postaction=liveboot recon.token={token} recon.master={master}\ninitrd http://{master}/{}\nboot\n",
        cfg.initrd
    )
}

/// The script for a client the master cannot name: iPXE fetches boot.ipxe again, saying its MAC.
pub(crate) fn chain_script(master: &str) -> String {
    format!("#!ipxe\nchain http://{master}/boot.ipxe?mac=${{netX/mac:hexhyp}}\n")
}

//--- Upload tokens

/// The master's key for upload tokens: HMAC-SHA256 (RFC 2104) over the boot MAC, written in
/// lower case with colons; a token is the first 16 octets of the MAC in hex.
#[derive(Clone)]
pub(crate) struct TokenKey([u8; 32]);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

/// Octets of the HMAC kept in a token: 128 bits, more than an attacker on the rack's network can
/// guess online.
const TOKEN_OCTETS: usize = 16;

impl TokenKey {
    pub(crate) fn new(key: [u8; 32]) -> TokenKey {
        TokenKey(key)
    }

    fn mac(&self, mac: &str) -> Option<hmac::Hmac<sha2::Sha256>> {
        let canonical = colon_mac(mac)?;
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0).ok()?;
        m.update(canonical.as_bytes());
        Some(m)
    }

    /// The token for the node with boot MAC `mac` (any accepted spelling); `None` if not a MAC.
    pub(crate) fn mint(&self, mac: &str) -> Option<String> {
        let tag = self.mac(mac)?.finalize().into_bytes();
        Some(tag.iter().take(TOKEN_OCTETS).fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        }))
    }

    /// Whether `token` is `mac`'s. The comparison of the HMAC is constant-time (hmac's
    /// `verify_truncated_left`), so timing does not tell how much of a guess was right.
    pub(crate) fn check(&self, mac: &str, token: &str) -> bool {
        let Some(m) = self.mac(mac) else { return false };
        let t = token.as_bytes();
        if t.len() != 2 * TOKEN_OCTETS || !t.iter().all(u8::is_ascii_hexdigit) {
            return false;
        }
        let tag: Vec<u8> = t
            .chunks(2)
            .map(|p| std::str::from_utf8(p).ok().and_then(|h| u8::from_str_radix(h, 16).ok()).unwrap_or(0))
            .collect();
        m.verify_truncated_left(&tag).is_ok()
    }
}

//--- Uploads

/// How an upload's body is encoded, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UploadFormat {
    /// `application/json`.
    Json,
    /// `application/postcard`: `postcard::to_stdvec` of the same type.
    Postcard,
}

/// The upload format a `Content-Type` names (415 for others).
pub(crate) fn upload_format(content_type: Option<&str>) -> Result<UploadFormat, Reject> {
    let Some(ct) = content_type else {
        return Err(Reject::new(415, "no Content-Type: send application/json or application/postcard"));
    };
    // Parameters (`; charset=utf-8`) do not change the type (RFC 9110, section 8.3.1).
    let media = ct.split(';').next().unwrap_or_default().trim();
    if media.eq_ignore_ascii_case("application/json") {
        Ok(UploadFormat::Json)
    } else if media.eq_ignore_ascii_case("application/postcard") {
        Ok(UploadFormat::Postcard)
    } else {
        Err(Reject::new(415, format!("Content-Type {media:?}: send application/json or application/postcard")))
    }
}

/// Decodes and checks an uploaded inventory for the node `mac`, and returns it as the pretty
/// JSON the store keeps. Refusals are 400s with a one-line reason.
pub(crate) fn decode_upload(format: UploadFormat, body: &[u8], mac: &str) -> Result<Vec<u8>, Reject> {
    use inventory::model::{Inventory, OLDEST_JSON_SCHEMA, SCHEMA};
    let inv: Inventory = match format {
        UploadFormat::Json => {
            serde_json::from_slice(body).map_err(|e| Reject::new(400, format!("not an inventory in JSON: {e}")))?
        }
        UploadFormat::Postcard => {
            // The schema is the first field: checked before the rest is decoded with a layout
            // that is this schema's only.
            let (schema, _) = postcard::take_from_bytes::<u32>(body)
                .map_err(|e| Reject::new(400, format!("not an inventory in postcard: {e}")))?;
            if schema != SCHEMA {
                return Err(Reject::new(
                    400,
                    format!(
                        "not an inventory in postcard at schema {SCHEMA}, the only one this master reads: schema {schema}"
                    ),
                ));
            }
            let (inv, rest) = postcard::take_from_bytes::<Inventory>(body)
                .map_err(|e| Reject::new(400, format!("not an inventory in postcard: {e}")))?;
            if !rest.is_empty() {
                return Err(Reject::new(400, format!("{} octets after the inventory", rest.len())));
            }
            inv
        }
    };
    if !(OLDEST_JSON_SCHEMA..=SCHEMA).contains(&inv.schema) {
        return Err(Reject::new(
            400,
            format!("inventory schema {} but this master reads schema {OLDEST_JSON_SCHEMA} to {SCHEMA}", inv.schema),
        ));
    }
    // The agent writes the MAC it booted from; an inventory filed under another node's MAC is
    // a mix-up worth refusing.
    if let Some(boot) = &inv.run.boot_mac
        && colon_mac(boot).as_deref() != colon_mac(mac).as_deref()
    {
        return Err(Reject::new(400, format!("the inventory's run.boot_mac {boot} is not {mac}")));
    }
    serde_json::to_vec_pretty(&inv).map_err(|e| Reject::new(500, format!("encoding the inventory: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> Request {
        parse_head(text.as_bytes()).unwrap().unwrap()
    }

    fn get(path: &str, extra: &str) -> Request {
        req(&format!("GET {path} HTTP/1.1\r\nHost: m\r\n{extra}\r\n"))
    }

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

    #[test]
    fn routes() {
        let r = |m: &str, p: &str| route(&req(&format!("{m} {p} HTTP/1.1\r\nHost: m\r\n\r\n")));
        assert_eq!(r("GET", "/boot.ipxe"), Ok(Route::BootScript { mac: None }));
        assert_eq!(
            r("GET", "/boot.ipxe?x=1&mac=52-54-00-AB-CD-EF"),
            Ok(Route::BootScript { mac: Some("52:54:00:ab:cd:ef".into()) })
        );
        assert_eq!(r("GET", "/boot.ipxe?mac=nope").unwrap_err().status, 400);
        assert_eq!(r("GET", "/api/v1/nodes"), Ok(Route::Nodes));
        assert_eq!(r("GET", "/api/v1/stats"), Ok(Route::Stats));
        assert_eq!(r("POST", "/api/v1/stats").unwrap_err().status, 405);
        assert_eq!(
            r("POST", "/api/v1/nodes/52:54:00:00:00:01/inventory"),
            Ok(Route::Upload { mac: "52:54:00:00:00:01".into() })
        );
        assert_eq!(
            r("HEAD", "/api/v1/nodes/52-54-00-00-00-01/inventory"),
            Ok(Route::Inventory { mac: "52:54:00:00:00:01".into() })
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

    #[test]
    fn byte_ranges_per_rfc_9110_section_14() {
        use RangeAnswer::*;
        let p = |first, last| Partial { first, last };
        assert_eq!(parse_range("bytes=0-499", 10_000), p(0, 499));
        assert_eq!(parse_range("bytes=500-999", 10_000), p(500, 999));
        assert_eq!(parse_range("bytes=9500-", 10_000), p(9500, 9999));
        assert_eq!(parse_range("bytes=-500", 10_000), p(9500, 9999));
        assert_eq!(parse_range("bytes=-20000", 10_000), p(0, 9999), "a suffix longer than the file is all of it");
        assert_eq!(parse_range("bytes=0-99999999999999999999999", 10), p(0, 9), "last-pos past the end is clipped");
        assert_eq!(parse_range("BYTES= 5-5 ", 10), p(5, 5));
        assert_eq!(parse_range("bytes=10-", 10), Unsatisfiable);
        assert_eq!(parse_range("bytes=10-20", 10), Unsatisfiable);
        assert_eq!(parse_range("bytes=99999999999999999999999-", 10), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 10), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-0", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=-5", 0), Full);
        // Ignored: several ranges, bad syntax, other units.
        assert_eq!(parse_range("bytes=0-1,5-6", 10), Full);
        assert_eq!(parse_range("bytes=5-1", 10), Full);
        assert_eq!(parse_range("bytes=a-b", 10), Full);
        assert_eq!(parse_range("bytes=-", 10), Full);
        assert_eq!(parse_range("bytes 0-1", 10), Full);
        assert_eq!(parse_range("items=0-1", 10), Full);
        assert_eq!(parse_range("bytes=0-1,", 10), p(0, 1), "empty list elements do not count");
    }

    #[test]
    fn file_plans_for_get_head_ranges_and_conditionals() {
        let info = FileInfo { len: 1000, mtime: Some(784_111_777) };
        let now = 1_800_000_000;
        let plan = |r: &Request| plan_file(r, info, now);
        let field = |p: &FilePlan, n: &str| p.fields.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
        let full = plan(&get("/f", ""));
        assert_eq!((full.status, full.content_length, full.body), (200, Some(1000), Some((0, 1000))));
        assert_eq!(field(&full, "Last-Modified").as_deref(), Some("Sun, 06 Nov 1994 08:49:37 GMT"));
        let head = plan(&req("HEAD /f HTTP/1.1\r\nHost: m\r\nRange: bytes=0-9\r\n\r\n"));
        assert_eq!((head.status, head.content_length, head.body), (200, Some(1000), None), "HEAD ignores Range");
        let part = plan(&get("/f", "Range: bytes=-10\r\n"));
        assert_eq!((part.status, part.content_length, part.body), (206, Some(10), Some((990, 10))));
        assert_eq!(field(&part, "Content-Range").as_deref(), Some("bytes 990-999/1000"));
        let bad = plan(&get("/f", "Range: bytes=1000-\r\n"));
        assert_eq!((bad.status, bad.body), (416, None));
        assert_eq!(field(&bad, "Content-Range").as_deref(), Some("bytes */1000"));
        let ims = plan(&get("/f", "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
        assert_eq!((ims.status, ims.content_length, ims.body), (304, None, None));
        let older = plan(&get("/f", "If-Modified-Since: Sat, 05 Nov 1994 08:49:37 GMT\r\n"));
        assert_eq!(older.status, 200);
        let junk = plan(&get("/f", "If-Modified-Since: yesterday\r\n"));
        assert_eq!(junk.status, 200, "an invalid date is ignored");
        let ir = plan(&get("/f", "Range: bytes=0-0\r\nIf-Range: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
        assert_eq!(ir.status, 206, "If-Range with the current date");
        let ir = plan(&get("/f", "Range: bytes=0-0\r\nIf-Range: \"etag\"\r\n"));
        assert_eq!(ir.status, 200, "If-Range that does not match: the whole file");
    }

    #[test]
    fn http_dates_in_all_three_forms() {
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        for s in ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            assert_eq!(parse_http_date(s), Some(784_111_777), "{s}");
        }
        for t in [0u64, 951_782_400, 4_102_444_799, 1_795_000_123] {
            assert_eq!(parse_http_date(&http_date(t)), Some(t));
        }
        for s in ["", "Sun, 06 Nov 1994 08:49:37", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 8:49:37 GMT"] {
            assert_eq!(parse_http_date(s), None, "{s}");
        }
    }

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

    #[test]
    fn chunked_bodies_decode_in_any_split() {
        let wire = b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        for split in 0..wire.len() {
            let mut d = Chunked::default();
            let mut out = Vec::new();
            let mut pending = wire[..split].to_vec();
            let n = d.decode(&pending, &mut out, 100).unwrap();
            pending.drain(..n);
            pending.extend_from_slice(&wire[split..]);
            let n = d.decode(&pending, &mut out, 100).unwrap();
            assert!(d.done(), "split at {split}");
            assert_eq!(out, b"hello, world");
            assert_eq!(&pending[n..], b"NEXT", "split at {split}: the next request is left alone");
        }
        let mut d = Chunked::default();
        assert_eq!(d.decode(b"65\r\n", &mut Vec::new(), 100).unwrap_err().status, 413);
        let mut d = Chunked::default();
        assert_eq!(d.decode(b"3\r\nabcdef", &mut Vec::new(), 100).unwrap_err().status, 400);
        let mut d = Chunked::default();
        assert_eq!(d.decode(b"zz\r\n", &mut Vec::new(), 100).unwrap_err().status, 400);
    }

    #[test]
    fn boot_scripts_carry_the_seed_args_token_and_master() {
        let mut cfg = BootConfig { append: "console=ttyS0,115200".into(), ..BootConfig::default() };
        let s = boot_script(&cfg, "10.0.0.1:8080", "10.0.0.1", "52:54:00:00:00:01", "00ff");
        assert_eq!(
            s,
            "#!ipxe\nkernel http://10.0.0.1:8080/vmlinuz initrd=initrd.img root=live:http://10.0.0.1:8080/recon.iso \
             rd.live.ram=1 rd.live.image rd.live.overlay.overlayfs=1 rd.neednet=1 ip=dhcp \
             systemd.mask=var-lib-recon.mount console=ttyS0,115200 \
             BOOTIF=01-${netX/mac:hexhyp} pxeaddr=10.0.0.1 postaction=liveboot recon.token=00ff recon.master=10.0.0.1:8080\n\
             initrd http://10.0.0.1:8080/initrd.img\nboot\n"
        );
        // The fast path: no image, the agent in the initramfs.
        cfg.fast_macs.insert("52:54:00:00:00:01".into());
        let s = boot_script(&cfg, "10.0.0.1", "10.0.0.1", "52:54:00:00:00:01", "00ff");
        assert!(s.contains("initrd=initrd.img rd.neednet=1 ip=dhcp recon.path=initramfs console="), "{s}");
        assert!(!s.contains("root=live"), "{s}");
        let s = boot_script(&cfg, "10.0.0.1", "10.0.0.1", "52:54:00:00:00:02", "00ff");
        assert!(s.contains("root=live:"), "{s}");
        assert_eq!(chain_script("10.0.0.1"), "#!ipxe\nchain http://10.0.0.1/boot.ipxe?mac=${netX/mac:hexhyp}\n");
    }

    #[test]
    fn tokens_are_per_mac_and_per_key() {
        let k = TokenKey::new([7; 32]);
        let t = k.mint("52-54-00-AB-CD-EF").unwrap();
        assert_eq!(t.len(), 32);
        assert_eq!(Some(t.clone()), k.mint("52:54:00:ab:cd:ef"), "every spelling of one MAC");
        assert!(k.check("52:54:00:ab:cd:ef", &t));
        assert!(k.check("52:54:00:ab:cd:ef", &t.to_uppercase()));
        assert!(!k.check("52:54:00:ab:cd:ee", &t), "another node's token");
        assert!(!TokenKey::new([8; 32]).check("52:54:00:ab:cd:ef", &t), "another master's token");
        assert!(!k.check("52:54:00:ab:cd:ef", &t[..30]));
        assert!(!k.check("52:54:00:ab:cd:ef", ""));
        let mut flipped = t.clone().into_bytes();
        flipped[31] = if flipped[31] == b'0' { b'1' } else { b'0' };
        assert!(!k.check("52:54:00:ab:cd:ef", std::str::from_utf8(&flipped).unwrap()));
        // The HMAC itself, against an independent computation (Python's hmac module):
        // hmac.new(bytes([7]*32), b"52:54:00:ab:cd:ef", "sha256").hexdigest()[:32]
        assert_eq!(t, KNOWN_TOKEN);
    }

    /// See `tokens_are_per_mac_and_per_key`.
    const KNOWN_TOKEN: &str = "9f7260de15b1ad111cc377b224db74f1";

    #[test]
    fn uploads_are_checked() {
        use inventory::model::{Inventory, SCHEMA};
        let mut inv = Inventory { schema: SCHEMA, ..Inventory::default() };
        inv.run.hostname = Some("n1".into());
        inv.run.boot_mac = Some("52:54:00:00:00:01".into());
        let mac = "52:54:00:00:00:01";
        let json = serde_json::to_vec(&inv).unwrap();
        let pc = postcard::to_stdvec(&inv).unwrap();
        for (f, body) in [(UploadFormat::Json, &json), (UploadFormat::Postcard, &pc)] {
            let stored = decode_upload(f, body, mac).unwrap();
            assert_eq!(serde_json::from_slice::<Inventory>(&stored).unwrap(), inv);
        }
        let status = |f, b: &[u8], m: &str| decode_upload(f, b, m).unwrap_err();
        assert!(status(UploadFormat::Json, b"{garbage", mac).reason.starts_with("not an inventory in JSON"));
        assert_eq!(status(UploadFormat::Postcard, b"\xff\xff", mac).status, 400);
        let mut longer = pc.clone();
        longer.push(0);
        assert_eq!(status(UploadFormat::Postcard, &longer, mac).reason, "1 octets after the inventory");
        assert!(status(UploadFormat::Json, &json, "52:54:00:00:00:02").reason.contains("run.boot_mac"));
        let newer = serde_json::to_vec(&Inventory { schema: SCHEMA + 1, ..Inventory::default() }).unwrap();
        assert!(status(UploadFormat::Json, &newer, mac).reason.contains("schema"));
        // An older schema's JSON reads, its later fields empty; its postcard is refused before
        // its layout is taken for this one's.
        let mut older = serde_json::to_value(Inventory { schema: 1, ..Inventory::default() }).unwrap();
        older["run"].as_object_mut().unwrap().remove("timings");
        let stored = decode_upload(UploadFormat::Json, &serde_json::to_vec(&older).unwrap(), mac).unwrap();
        assert_eq!(serde_json::from_slice::<Inventory>(&stored).unwrap().schema, 1);
        let old_pc = postcard::to_stdvec(&Inventory { schema: 1, ..Inventory::default() }).unwrap();
        assert!(status(UploadFormat::Postcard, &old_pc, mac).reason.ends_with("reads: schema 1"));
        assert_eq!(upload_format(Some("Application/JSON; charset=utf-8")), Ok(UploadFormat::Json));
        assert_eq!(upload_format(Some("application/postcard")), Ok(UploadFormat::Postcard));
        assert_eq!(upload_format(Some("text/plain")).unwrap_err().status, 415);
        assert_eq!(upload_format(None).unwrap_err().status, 415);
    }
}
