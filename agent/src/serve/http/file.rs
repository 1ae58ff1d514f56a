//! GET and HEAD of a file: `Content-Length`, `Last-Modified` and `If-Modified-Since`
//! ([RFC 9110, section 13.1.3]) and single byte ranges ([RFC 9110, section 14]).
//!
//! [RFC 9110, section 13.1.3]: https://www.rfc-editor.org/rfc/rfc9110#section-13.1.3
//! [RFC 9110, section 14]: https://www.rfc-editor.org/rfc/rfc9110#section-14

use super::head::{Method, Request};
use crate::serve::time::{http_date, parse_http_date};

/// What the runtime knows of a file it opened.
#[derive(Debug, Clone, Copy)]
pub struct FileInfo {
    /// Its size.
    pub len: u64,
    /// Its modification time, seconds since the Unix epoch.
    pub mtime: Option<u64>,
}

/// How to answer a GET or HEAD of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePlan {
    /// 200, 206, 304 or 416.
    pub status: u16,
    /// Fields besides Date, Connection and Content-Length.
    pub fields: Vec<(&'static str, String)>,
    /// The `Content-Length` to send (`None` for 304).
    pub content_length: Option<u64>,
    /// The octets to send from the file: (offset, length); `None` for HEAD and bodiless answers.
    pub body: Option<(u64, u64)>,
}

/// A `Range` field's meaning for a representation of a given length ([RFC 9110, section
/// 14.1.2](https://www.rfc-editor.org/rfc/rfc9110#section-14.1.2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
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
pub fn parse_range(value: &str, len: u64) -> RangeAnswer {
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
pub fn plan_file(req: &Request, info: FileInfo, now: u64) -> FilePlan {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::http::testing::{get, req};

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
}
