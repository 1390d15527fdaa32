//! RFC 3339 times by hand.
//!
//! Reading, for the console (wasm32; `frontend/src/json.rs` reads the api's times with
//! [`parse`]): chrono's own parser, which takes many formats, is most of what chrono adds to
//! the console's wasm. This one takes what the api writes
//! (`2025-11-25T09:41:00.123456Z`) and any other RFC 3339 time with an offset, and gives
//! the same `DateTime<Utc>` chrono's parser would. The server reads the times of a list
//! page with it, for less CPU than chrono's.
//!
//! Writing, for the server: the same text as chrono's `Serialize` (UTC, `Z`, no fraction or
//! 3, 6 or 9 digits of it), without going through `core::fmt` a character at a time. A
//! page of fifty summaries writes 100 to 150 times; through chrono that was ~11% of the
//! server's CPU per page.

use chrono::{DateTime, Utc};
#[cfg(any(not(target_arch = "wasm32"), test))]
use {
    chrono::{Datelike, Timelike},
    serde::Serializer,
};

/// The longest text [`write`] makes: `9999-12-31T23:59:59.999999999Z`.
#[cfg(any(not(target_arch = "wasm32"), test))]
const MAX_LEN: usize = 30;

/// `t` as chrono's `Serialize` writes it, or `None` for what [`write`] leaves to chrono
/// (years outside 0000-9999, leap seconds).
#[cfg(any(not(target_arch = "wasm32"), test))]
fn write(t: &DateTime<Utc>, out: &mut [u8; MAX_LEN]) -> Option<usize> {
    let year = t.year();
    let nanos = t.nanosecond();
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return None;
    }
    fn put(out: &mut [u8], at: usize, width: usize, mut v: u32) {
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    put(out, 0, 4, year as u32);
    out[4] = b'-';
    put(out, 5, 2, t.month());
    out[7] = b'-';
    put(out, 8, 2, t.day());
    out[10] = b'T';
    put(out, 11, 2, t.hour());
    out[13] = b':';
    put(out, 14, 2, t.minute());
    out[16] = b':';
    put(out, 17, 2, t.second());
    let mut len = 19;
    // chrono's `SecondsFormat::AutoSi`: the fewest of 0, 3, 6 or 9 digits that say it all.
    let (digits, value) = if nanos == 0 {
        (0, 0)
    } else if nanos.is_multiple_of(1_000_000) {
        (3, nanos / 1_000_000)
    } else if nanos.is_multiple_of(1_000) {
        (6, nanos / 1_000)
    } else {
        (9, nanos)
    };
    if digits > 0 {
        out[len] = b'.';
        put(out, len + 1, digits, value);
        len += 1 + digits;
    }
    out[len] = b'Z';
    Some(len + 1)
}

/// `serialize_with` for a `DateTime<Utc>` field: the text chrono's `Serialize` writes.
#[cfg(any(not(target_arch = "wasm32"), test))]
pub fn ser<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; MAX_LEN];
    match write(t, &mut buf) {
        // Only ASCII digits and separators were written.
        Some(len) => s.serialize_str(std::str::from_utf8(&buf[..len]).unwrap_or_default()),
        None => serde::Serialize::serialize(t, s),
    }
}

/// `t` as a JSON string, the bytes [`ser`] has serde_json write, appended to `out`.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn push_json(t: &DateTime<Utc>, out: &mut Vec<u8>) {
    let mut buf = [0u8; MAX_LEN];
    match write(t, &mut buf) {
        Some(len) => {
            out.push(b'"');
            out.extend_from_slice(&buf[..len]);
            out.push(b'"');
        }
        // chrono's `Serialize` does not fail, and neither does writing to a `Vec`.
        None => serde_json::to_writer(out, t).unwrap_or_default(),
    }
}

/// `serialize_with` for an `Option<DateTime<Utc>>` field (`None` is `null`).
#[cfg(any(not(target_arch = "wasm32"), test))]
pub fn ser_option<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => ser(t, s),
        None => s.serialize_none(),
    }
}

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

    /// What chrono's `Serialize` writes for `t`, and what [`ser`] writes.
    fn both(t: DateTime<Utc>) -> (String, String) {
        let mut mine = serde_json::Serializer::new(Vec::new());
        ser(&t, &mut mine).unwrap();
        (
            serde_json::to_string(&t).unwrap(),
            String::from_utf8(mine.into_inner()).unwrap(),
        )
    }

    #[test]
    fn writes_what_chrono_writes_for_every_kind_of_fraction_and_the_edges() {
        for text in [
            "2025-11-25T09:41:00Z",
            "2025-11-25T09:41:00.5Z",
            "2025-11-25T09:41:00.120Z",
            "2025-11-25T09:41:00.123456Z",
            "2025-11-25T09:41:00.000001Z",
            "2025-11-25T09:41:00.100000001Z",
            "2025-11-25T09:41:00.123456789Z",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999Z",
            "0000-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "2024-02-29T12:00:00Z",
            // Left to chrono: a leap second, and years of more than four digits or below 0.
            "2016-12-31T23:59:60.5Z",
        ] {
            let t: DateTime<Utc> = text.parse().expect(text);
            let (chrono, mine) = both(t);
            assert_eq!(mine, chrono, "{text}");
        }
        for t in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            let (chrono, mine) = both(t);
            assert_eq!(mine, chrono);
        }
    }

    #[test]
    fn writes_what_chrono_writes_for_many_times_across_ten_thousand_years() {
        // A fixed pseudo-random walk (xorshift), so that a failure can be found again.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (lo, hi) = (-62_167_219_200i64, 253_402_300_799i64); // 0000-01-01 .. 9999-12-31
        for i in 0..200_000u64 {
            let secs = lo + (next() % (hi - lo + 1) as u64) as i64;
            // Every kind of fraction: none, millis, micros, nanos.
            let nanos = match i % 4 {
                0 => 0,
                1 => (next() % 1_000) as u32 * 1_000_000,
                2 => (next() % 1_000_000) as u32 * 1_000,
                _ => (next() % 1_000_000_000) as u32,
            };
            let t = DateTime::from_timestamp(secs, nanos).unwrap();
            let (chrono, mine) = both(t);
            assert_eq!(mine, chrono, "{secs}.{nanos}");
        }
    }

    #[test]
    fn an_absent_time_is_null_and_a_present_one_is_written_as_chrono_writes_it() {
        #[derive(serde::Serialize)]
        struct Times {
            #[serde(serialize_with = "ser_option")]
            maybe: Option<DateTime<Utc>>,
        }
        let t: DateTime<Utc> = "2025-11-25T09:41:00.5Z".parse().unwrap();
        assert_eq!(
            serde_json::to_string(&Times { maybe: Some(t) }).unwrap(),
            serde_json::to_string(&serde_json::json!({ "maybe": t })).unwrap()
        );
        assert_eq!(
            serde_json::to_string(&Times { maybe: None }).unwrap(),
            r#"{"maybe":null}"#
        );
    }

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
