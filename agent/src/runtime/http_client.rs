//! The peer's HTTP/1.1 client: one request per connection (`Connection: close`), a body with
//! `Content-Length`, the response read to the end (RFC 9112 section 6.3: close-delimited or
//! `Content-Length`; chunked responses are not expected from recon's master and are refused),
//! and a time limit over the whole exchange.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::TcpStream;

/// A response: status and body.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// Largest response body accepted: manifests and acknowledgements are small, a fleet view of a
/// thousand nodes is a few MiB.
const MAX_BODY: usize = 32 << 20;

/// `http://A.B.C.D[:port]/path` -> address and path.
pub(crate) fn split_url(url: &str) -> Option<(SocketAddrV4, String)> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let (ip, port) = match host.split_once(':') {
        Some((h, p)) => (h.parse::<Ipv4Addr>().ok()?, p.parse().ok()?),
        None => (host.parse::<Ipv4Addr>().ok()?, 80),
    };
    Some((SocketAddrV4::new(ip, port), path))
}

async fn exchange(addr: SocketAddrV4, head: String, body: &[u8]) -> io::Result<Response> {
    let mut s = TcpStream::connect(SocketAddr::V4(addr)).await?;
    s.write_all(head.as_bytes()).await?;
    s.write_all(body).await?;
    s.flush().await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_BODY + 16 * 1024 {
            return Err(io::Error::other("response too large"));
        }
    }
    parse_response(&buf)
}

fn parse_response(buf: &[u8]) -> io::Result<Response> {
    let (status, body) = crate::serve::http::client::parse_response(buf).map_err(io::Error::other)?;
    Ok(Response { status, body: body.to_vec() })
}

/// One request with a time limit.
pub(crate) async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    limit: Duration,
) -> io::Result<Response> {
    let (addr, path) = split_url(url).ok_or_else(|| io::Error::other(format!("not an http://A.B.C.D/ URL: {url}")))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: recon/{}\r\n",
        addr.ip(),
        env!("CARGO_PKG_VERSION")
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    smol::future::or(exchange(addr, head, body), async {
        smol::Timer::after(limit).await;
        Err(io::Error::new(io::ErrorKind::TimedOut, format!("no answer from {addr} within {limit:?}")))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            split_url("http://10.0.0.1/api/v1/manifest"),
            Some((SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80), "/api/v1/manifest".into()))
        );
        assert_eq!(
            split_url("http://10.0.0.1:8080"),
            Some((SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 8080), "/".into()))
        );
        assert_eq!(split_url("https://10.0.0.1/"), None);
        assert_eq!(split_url("http://bang/"), None);
    }
}
