//! The fleet table: one line per node, the columns a person scans first. The board's line mode,
//! the board's table, the report and the virtual rack all print it from here.

use crate::serve::fleet::{FleetView, NodeView};

/// Column widths: MAC, serial or host name, status; the last event takes what is left.
pub const WIDTHS: [usize; 3] = [17, 14, 30];

/// The header line.
pub fn header() -> String {
    format!("{:<17} {:<14} {:<30} {}", "MAC", "SERIAL/HOST", "STATUS", "LAST EVENT")
}

/// What names a node once its inventory is in: its serial, else its host name, else its address.
pub fn name(n: &NodeView) -> String {
    n.serial
        .clone()
        .or_else(|| n.hostname.clone())
        .or_else(|| n.ip.map(|i| i.to_string()))
        .unwrap_or_else(|| "-".into())
}

/// `n` seconds as `42 s`, `3 min`, `2 h`.
pub fn ago(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        _ => format!("{} h", s / 3600),
    }
}

/// One node's line, cut to `width` columns.
pub fn line(n: &NodeView, now: u64, width: usize) -> String {
    let last =
        if n.last_at == 0 { String::new() } else { format!("{} ({} ago)", n.last, ago(now.saturating_sub(n.last_at))) };
    let l = format!("{:<17} {:<14} {:<30} {last}", n.mac, cut(&name(n), 14), cut(&n.status, 30));
    cut(&l, width)
}

/// The counts line: `4 nodes: 1 booting, 0 stuck, 3 done`.
pub fn counts(v: &FleetView) -> String {
    let c = |k: &str| v.counts.get(k).copied().unwrap_or(0);
    format!(
        "{} nodes: {} booting, {} inventoried, {} done, {} stuck",
        v.nodes.len(),
        c("booting") + c("seen"),
        c("inventoried"),
        c("done"),
        c("stuck")
    )
}

/// The whole table, header first, then the counts.
pub fn table(v: &FleetView, width: usize) -> String {
    let mut s = cut(&header(), width);
    s.push('\n');
    for n in &v.nodes {
        s.push_str(&line(n, v.now, width));
        s.push('\n');
    }
    s.push_str(&counts(v));
    s
}

/// At most `n` characters (not octets), `~` marking a cut.
pub fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('~');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::fleet::Fleet;
    use netboot_proto::Mac;

    #[test]
    fn a_table_line_per_node_within_the_width() {
        let mut f = Fleet::new();
        let m = Mac([0x52, 0x54, 0, 0, 0, 1]);
        f.event(m, "dhcp-ack", 1_000, serde_json::json!({"ip": "10.0.0.5"}), true);
        f.event(m, "tftp", 2_000, serde_json::json!({"file": "undionly.kpxe", "status": "sent"}), true);
        let v = f.view(200_000);
        let t = table(&v, 80);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        assert!(lines.iter().all(|l| l.chars().count() <= 80), "{t}");
        assert!(lines[1].starts_with("52:54:00:00:00:01 10.0.0.5"), "{t}");
        assert!(lines[1].contains("stuck after TFTP for 198 s"), "{t}");
        assert_eq!(lines[2], "1 nodes: 0 booting, 0 inventoried, 0 done, 1 stuck");
        assert_eq!(cut("abcdef", 4), "abc~");
        assert_eq!(ago(61_000), "61 s");
        assert_eq!(ago(600_000), "10 min");
    }
}
