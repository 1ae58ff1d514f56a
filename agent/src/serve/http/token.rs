//! Upload tokens: HMAC-SHA256 ([RFC 2104]) of a node's boot MAC under the master's key.
//!
//! Who gets a token: a token is handed out (in boot.ipxe and the manifest) only to the address
//! that is the node's: the address the master leased to that MAC, or, where another server
//! leases (proxy DHCP), the address the kernel's neighbour table ([RFC 826] ARP) has at that MAC
//! on the master's own segment ([`neighbour_mac`]). So a host on the segment cannot ask for
//! another node's token and overwrite its inventory; it can still lie about its own MAC on the
//! wire, which no layer-3 check can stop.
//!
//! [RFC 2104]: https://www.rfc-editor.org/rfc/rfc2104
//! [RFC 826]: https://www.rfc-editor.org/rfc/rfc826

use std::fmt::Write as _;

use hmac::{KeyInit, Mac as _};
use netboot_proto::Mac;

/// The master's key for upload tokens: HMAC-SHA256 (RFC 2104) over the boot MAC, written in
/// lower case with colons; a token is the first 16 octets of the MAC in hex.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

/// Octets of the HMAC kept in a token: 128 bits, more than an attacker on the rack's network can
/// guess online.
const TOKEN_OCTETS: usize = 16;

impl TokenKey {
    /// A key of 32 octets (the master's `secret` file).
    pub fn new(key: [u8; 32]) -> TokenKey {
        TokenKey(key)
    }

    fn hmac(&self, mac: Mac) -> hmac::Hmac<sha2::Sha256> {
        // Any key length is valid for HMAC (RFC 2104, section 3): this cannot fail.
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        m.update(mac.to_string().as_bytes());
        m
    }

    /// The token for the node with boot MAC `mac`.
    pub fn mint(&self, mac: Mac) -> String {
        let tag = self.hmac(mac).finalize().into_bytes();
        tag.iter().take(TOKEN_OCTETS).fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// Whether `token` is `mac`'s. The comparison of the HMAC is constant-time (hmac's
    /// `verify_truncated_left`), so timing does not tell how much of a guess was right.
    pub fn check(&self, mac: Mac, token: &str) -> bool {
        let m = self.hmac(mac);
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

/// The MAC the kernel's neighbour table has for `ip`, from the text of `/proc/net/arp`
/// (columns: IP address, HW type, Flags, HW address, Mask, Device). Only complete entries
/// (`ATF_COM`, flag 0x2) of Ethernet (HW type 0x1) count: an incomplete one has no address yet.
pub fn neighbour_mac(table: &str, ip: std::net::Ipv4Addr) -> Option<Mac> {
    table.lines().skip(1).find_map(|l| {
        let mut f = l.split_whitespace();
        let (addr, hw, flags, mac) = (f.next()?, f.next()?, f.next()?, f.next()?);
        let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16).ok()?;
        (addr.parse() == Ok(ip) && hw == "0x1" && flags & 0x2 != 0).then(|| Mac::parse(mac)).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_neighbour_table_names_complete_entries_only() {
        let t = "IP address       HW type     Flags       HW address            Mask     Device\n\
                 10.81.0.2        0x1         0x2         52:54:00:12:34:56     *        srv0\n\
                 10.81.0.3        0x1         0x0         00:00:00:00:00:00     *        srv0\n\
                 10.81.0.4        0x1         0x6         52:54:00:00:00:04     *        srv0\n";
        let ip = |s: &str| s.parse::<std::net::Ipv4Addr>().unwrap();
        assert_eq!(neighbour_mac(t, ip("10.81.0.2")), Mac::parse("52:54:00:12:34:56"));
        assert_eq!(neighbour_mac(t, ip("10.81.0.3")), None, "incomplete");
        assert_eq!(neighbour_mac(t, ip("10.81.0.4")), Mac::parse("52:54:00:00:00:04"), "permanent too");
        assert_eq!(neighbour_mac(t, ip("10.81.0.9")), None);
        assert_eq!(neighbour_mac("", ip("10.81.0.2")), None);
        assert_eq!(neighbour_mac("h\n10.81.0.2 0x1 zz 52:54:00:12:34:56 * x", ip("10.81.0.2")), None);
    }

    #[test]
    fn tokens_are_per_mac_and_per_key() {
        let k = TokenKey::new([7; 32]);
        let m = |s: &str| Mac::parse(s).unwrap();
        let t = k.mint(m("52-54-00-AB-CD-EF"));
        assert_eq!(t.len(), 32);
        assert_eq!(t, k.mint(m("52:54:00:ab:cd:ef")), "every spelling of one MAC");
        assert!(k.check(m("52:54:00:ab:cd:ef"), &t));
        assert!(k.check(m("52:54:00:ab:cd:ef"), &t.to_uppercase()));
        assert!(!k.check(m("52:54:00:ab:cd:ee"), &t), "another node's token");
        assert!(!TokenKey::new([8; 32]).check(m("52:54:00:ab:cd:ef"), &t), "another master's token");
        assert!(!k.check(m("52:54:00:ab:cd:ef"), &t[..30]));
        assert!(!k.check(m("52:54:00:ab:cd:ef"), ""));
        let mut flipped = t.clone().into_bytes();
        flipped[31] = if flipped[31] == b'0' { b'1' } else { b'0' };
        assert!(!k.check(m("52:54:00:ab:cd:ef"), std::str::from_utf8(&flipped).unwrap()));
        // The HMAC itself, against an independent computation (Python's hmac module):
        // hmac.new(bytes([7]*32), b"52:54:00:ab:cd:ef", "sha256").hexdigest()[:32]
        assert_eq!(t, KNOWN_TOKEN);
    }

    /// See `tokens_are_per_mac_and_per_key`.
    const KNOWN_TOKEN: &str = "9f7260de15b1ad111cc377b224db74f1";
}
