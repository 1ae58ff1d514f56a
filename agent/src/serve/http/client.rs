//! The agent's side of HTTP: a whole response, as read to the end of a `Connection: close`
//! exchange ([RFC 9112, section 6.3]: the body is `Content-Length` octets, else everything up to
//! the close; a chunked response is refused, since recon's master never sends one).
//!
//! [RFC 9112, section 6.3]: https://www.rfc-editor.org/rfc/rfc9112#section-6.3

/// The status and the body of a response; why not, in words.
pub fn parse_response(buf: &[u8]) -> Result<(u16, &[u8]), String> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no response header")?;
    let head = std::str::from_utf8(buf.get(..end).unwrap_or_default()).map_err(|_| "response header not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| (100..600).contains(s))
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut length = None;
    for l in lines {
        let Some((k, v)) = l.split_once(':') else { continue };
        if k.eq_ignore_ascii_case("content-length") {
            length = Some(v.trim().parse::<usize>().map_err(|_| format!("bad Content-Length {:?}", v.trim()))?);
        } else if k.eq_ignore_ascii_case("transfer-encoding") && !v.trim().eq_ignore_ascii_case("identity") {
            return Err("chunked responses are not supported".into());
        }
    }
    let body = buf.get(end + 4..).unwrap_or_default();
    let body = match length {
        Some(n) => body.get(..n).ok_or("response shorter than its Content-Length")?,
        None => body,
    };
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_whole_short_chunked_and_garbage() {
        assert_eq!(
            parse_response(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok trailing"),
            Ok((201, &b"ok"[..]))
        );
        assert_eq!(parse_response(b"HTTP/1.0 200 OK\r\n\r\n{}"), Ok((200, &b"{}"[..])));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").is_err());
        assert!(parse_response(b"garbage").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").is_err());
        assert!(parse_response(b"HTTP/1.1 999 Odd\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").is_err());
    }
}
