//! RFC 3339 times read by hand, for the console (wasm32; `frontend/src/json.rs` reads the
//! api's times with [`parse`]): chrono's own parser, which takes many formats, is most of
//! what chrono adds to the console's wasm. This one takes what the api writes
//! (`2025-11-25T09:41:00.123456Z`, chrono's `Serialize`) and any other RFC 3339 time with an
//! offset, and gives the same `DateTime<Utc>` chrono's parser would.

use chrono::{DateTime, Utc};

/// Days from 1970-01-01 to the proleptic Gregorian date `y-m-d` (month and day valid).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    // Years start in March, so that the leap day ends them; 400-year eras of 146,097 days.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let month_from_march = if m > 2 { m - 3 } else { m + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Reads `n` ASCII digits at `*at`, moving past them.
fn digits(s: &[u8], at: &mut usize, n: usize) -> Option<i64> {
    let part = s.get(*at..*at + n)?;
    let mut v = 0i64;
    for &b in part {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(b - b'0');
    }
    *at += n;
    Some(v)
}

fn expect(s: &[u8], at: &mut usize, want: &[u8]) -> Option<()> {
    let b = *s.get(*at)?;
    want.contains(&b).then(|| *at += 1)
}

/// An RFC 3339 date-time with an offset (`Z` or `±HH:MM`) as a UTC moment. The date and
/// time may be separated by `T`, `t` or a space; fractions of a second past nanoseconds are
/// cut off; a leap second (`:60`) is kept as chrono keeps it.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    let s = text.as_bytes();
    let mut at = 0;
    let year = digits(s, &mut at, 4)?;
    expect(s, &mut at, b"-")?;
    let month = digits(s, &mut at, 2)?;
    expect(s, &mut at, b"-")?;
    let day = digits(s, &mut at, 2)?;
    expect(s, &mut at, b"Tt ")?;
    let hour = digits(s, &mut at, 2)?;
    expect(s, &mut at, b":")?;
    let minute = digits(s, &mut at, 2)?;
    expect(s, &mut at, b":")?;
    let mut second = digits(s, &mut at, 2)?;
    let mut nanos = 0i64;
    if s.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        let mut scale = 100_000_000;
        while let Some(b) = s.get(at).filter(|b| b.is_ascii_digit()) {
            nanos += i64::from(b - b'0') * scale;
            scale /= 10;
            at += 1;
        }
        if at == start {
            return None;
        }
    }
    let offset = match *s.get(at)? {
        b'Z' | b'z' => {
            at += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            at += 1;
            let h = digits(s, &mut at, 2)?;
            expect(s, &mut at, b":")?;
            let m = digits(s, &mut at, 2)?;
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    let valid = at == s.len()
        && (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 60;
    if !valid {
        return None;
    }
    if second == 60 {
        second = 59;
        nanos += 1_000_000_000;
    }
    let secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    DateTime::from_timestamp(secs, u32::try_from(nanos).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_chrono_reads() {
        for text in [
            "2025-11-25T09:41:00Z",
            "2025-11-25T09:41:00.123456789Z",
            "2025-11-25T09:41:00.1234567891234Z",
            "2025-11-25t09:41:00.5z",
            "2025-11-25 09:41:00+09:00",
            "2024-02-29T23:59:59-05:30",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "2016-12-31T23:59:60Z",
            "2000-03-01T00:00:00+23:59",
        ] {
            let chrono: DateTime<Utc> = text.parse().expect(text);
            assert_eq!(parse(text), Some(chrono), "{text}");
        }
        let now = Utc::now();
        let written = serde_json::to_string(&now).unwrap();
        assert_eq!(parse(written.trim_matches('"')), Some(now));
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for text in [
            "",
            "2025-11-25",
            "2025-11-25T09:41:00",
            "2025-02-29T09:41:00Z",
            "2025-13-01T09:41:00Z",
            "2025-11-31T09:41:00Z",
            "2025-11-25T24:00:00Z",
            "2025-11-25T09:60:00Z",
            "2025-11-25T09:41:00.Z",
            "2025-11-25T09:41:00Zjunk",
            "2025-11-25T09:41:00+24:00",
            "2025-1-25T09:41:00Z",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
