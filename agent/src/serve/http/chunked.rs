//! Chunked request bodies ([RFC 9112, section 7.1]), decoded as octets arrive.
//!
//! [RFC 9112, section 7.1]: https://www.rfc-editor.org/rfc/rfc9112#section-7.1

use super::head::Reject;

/// A decoder for a chunked body, fed octets as they arrive.
#[derive(Debug, Default)]
pub struct Chunked {
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
    pub fn done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decodes as much of `input` as it can into `out`, and returns the octets consumed; call
    /// again with the rest and more input until [`Chunked::done`]. A body that would exceed
    /// `limit` octets is a 413; broken framing is a 400.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>, limit: u64) -> Result<usize, Reject> {
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
                    out.extend_from_slice(rest.get(..n).unwrap_or_default());
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
