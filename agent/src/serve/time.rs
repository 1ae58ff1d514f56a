//! Dates as recon writes and reads them, from Unix time, with no clock: HTTP-dates
//! ([RFC 9110, section 5.6.7]) and UTC date-times in the ISO 8601 / [RFC 3339] form the logs,
//! `recon dump` and the reports use.
//!
//! [RFC 9110, section 5.6.7]: https://www.rfc-editor.org/rfc/rfc9110#section-5.6.7
//! [RFC 3339]: https://www.rfc-editor.org/rfc/rfc3339

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
pub fn http_date(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    let (y, m, d) = civil(days);
    let wd = DAYS.get(usize::try_from(days.rem_euclid(7)).unwrap_or(0)).unwrap_or(&"Thu");
    let mon = MONTHS.get(m.saturating_sub(1) as usize).unwrap_or(&"Jan");
    format!("{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02} GMT", rem / 3600, rem / 60 % 60, rem % 60)
}

/// Parses the three HTTP-date forms a recipient must accept (RFC 9110, section 5.6.7):
/// IMF-fixdate, the obsolete RFC 850 form (two-digit year, read as within 50 years of 2000)
/// and asctime. `None` if it is none of them.
pub fn parse_http_date(s: &str) -> Option<u64> {
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

/// `YYYY-MM-DD hh:mm:ss` in UTC ([RFC 3339, section 5.6] with a space for the `T`, as section
/// 5.6 allows), and `.uuuuuu` when `micros` is given.
///
/// [RFC 3339, section 5.6]: https://www.rfc-editor.org/rfc/rfc3339#section-5.6
pub fn utc_datetime(secs: u64, micros: Option<u32>) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    let (y, m, d) = civil(days);
    let mut s = format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60);
    if let Some(us) = micros {
        s.push_str(&format!(".{:06}", us % 1_000_000));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn utc_date_times() {
        assert_eq!(utc_datetime(0, None), "1970-01-01 00:00:00");
        assert_eq!(utc_datetime(784_111_777, Some(42)), "1994-11-06 08:49:37.000042");
        // tcpdump's dhcp-rfc3004 frame 1, as tcpdump prints it.
        assert_eq!(utc_datetime(1_417_167_498, Some(352_570)), "2014-11-28 09:38:18.352570");
        // 2000-02-29, a leap day in a year divisible by 400.
        assert_eq!(utc_datetime(951_782_400 + 3599, None), "2000-02-29 00:59:59");
    }
}
