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
//!
//! One file per concern: [`head`] (request heads), [`route`], [`file`] (files, ranges,
//! conditionals), [`response`] (response heads), [`chunked`] (chunked bodies), [`boot`]
//! (boot.ipxe), [`token`] (upload tokens), [`upload`] (uploaded inventories); and [`client`],
//! the agent's side: a response as it reads one.

pub mod boot;
pub mod chunked;
pub mod client;
pub mod file;
pub mod head;
pub mod response;
pub mod route;
pub mod token;
pub mod upload;

pub use boot::{BootConfig, boot_script, chain_script};
pub use chunked::Chunked;
pub use file::{FileInfo, FilePlan, RangeAnswer, parse_range, plan_file};
pub use head::{MAX_HEAD, MAX_HEADERS, Method, Reject, Request, parse_head, query_param};
pub use response::{Head, reason, reject_response, text_response};
pub use route::{Route, route};
pub use token::TokenKey;
pub use upload::{UploadFormat, decode_upload, upload_format};

#[cfg(test)]
pub(crate) mod testing {
    //! Requests for the tests of every part.
    use super::head::{Request, parse_head};

    pub(crate) fn req(text: &str) -> Request {
        parse_head(text.as_bytes()).unwrap().unwrap()
    }

    pub(crate) fn get(path: &str, extra: &str) -> Request {
        req(&format!("GET {path} HTTP/1.1\r\nHost: m\r\n{extra}\r\n"))
    }
}
