//! `GET /api/approvals`' answer written by hand, for the server.
//!
//! A list page is the api's busiest answer. Through serde_json, a quarter of its CPU went
//! to checking every byte of every key and value for characters to escape, and to the
//! derive's per-field calls. Here the keys are constant bytes and a value with nothing to
//! escape (almost all of them) is copied as it is; anything else goes through serde_json.
//! The bytes are exactly `serde_json::to_vec(page)`'s: the tests compare the two over
//! pages of random text, and a field added to [`ApprovalSummary`] breaks their build until
//! it is written here too.

use chrono::{DateTime, Utc};

use crate::{ApprovalPage, ApprovalSummary, rfc3339};

impl ApprovalPage {
    /// Appends this page as JSON to `out`: the bytes `serde_json::to_writer` would write.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"items\":[");
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            item.write_json(out);
        }
        out.extend_from_slice(b"],\"nextCursor\":");
        match &self.next_cursor {
            Some(c) => string(out, c),
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
    }
}

impl ApprovalSummary {
    fn write_json(&self, out: &mut Vec<u8>) {
        let ApprovalSummary {
            id,
            title,
            requested_by,
            state_machine_name,
            execution_name,
            status,
            created_at,
            expires_at,
            required_approvals,
            approvals_so_far,
            decided_at,
            decided_by,
        } = self;
        out.extend_from_slice(b"{\"id\":");
        string(out, id);
        out.extend_from_slice(b",\"title\":");
        string(out, title);
        out.extend_from_slice(b",\"requestedBy\":");
        match requested_by {
            Some(r) => string(out, r),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"stateMachineName\":");
        string(out, state_machine_name);
        out.extend_from_slice(b",\"executionName\":");
        string(out, execution_name);
        out.extend_from_slice(b",\"status\":\"");
        out.extend_from_slice(status.as_str().as_bytes());
        out.extend_from_slice(b"\",\"createdAt\":");
        time(out, created_at);
        out.extend_from_slice(b",\"expiresAt\":");
        time(out, expires_at);
        out.extend_from_slice(b",\"requiredApprovals\":");
        number(out, *required_approvals);
        out.extend_from_slice(b",\"approvalsSoFar\":");
        number(out, *approvals_so_far);
        out.extend_from_slice(b",\"decidedAt\":");
        match decided_at {
            Some(t) => time(out, t),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"decidedBy\":[");
        for (i, who) in decided_by.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, who);
        }
        out.extend_from_slice(b"]}");
    }
}

/// `s` as a JSON string. serde_json escapes `"`, `\` and the control characters below
/// U+0020, and nothing else.
fn string(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing a string to a `Vec` does not fail.
        serde_json::to_writer(out, s).unwrap_or_default();
    }
}

fn time(out: &mut Vec<u8>, t: &DateTime<Utc>) {
    rfc3339::push_json(t, out);
}

fn number(out: &mut Vec<u8>, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RequestStatus;

    /// A small xorshift generator: the same pages on every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        /// Text mixing plain ASCII with what JSON must escape and what it must not.
        fn text(&mut self) -> String {
            const PIECES: [&str; 16] = [
                "a",
                "Z",
                " ",
                "deploy-",
                "0",
                "\"",
                "\\",
                "\n",
                "\t",
                "\u{1}",
                "\u{1f}",
                "\u{7f}",
                "é",
                "本番デプロイ",
                "🚀",
                "/",
            ];
            (0..self.below(12))
                .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
                .collect()
        }
        fn time(&mut self) -> DateTime<Utc> {
            // Years 0000 to 9999, and every width of fraction.
            let secs = self.below(315_537_897_600) as i64 - 62_167_219_200;
            let nanos = match self.below(4) {
                0 => 0,
                1 => self.below(1000) as u32 * 1_000_000,
                2 => self.below(1_000_000) as u32 * 1000,
                _ => self.below(1_000_000_000) as u32,
            };
            DateTime::from_timestamp(secs, nanos).expect("a time in range")
        }
        fn summary(&mut self) -> ApprovalSummary {
            ApprovalSummary {
                id: self.text(),
                title: self.text(),
                requested_by: (self.below(2) == 0).then(|| self.text()),
                state_machine_name: self.text(),
                execution_name: self.text(),
                status: RequestStatus::ALL[self.below(5) as usize],
                created_at: self.time(),
                expires_at: self.time(),
                required_approvals: match self.below(3) {
                    0 => 0,
                    1 => u32::MAX,
                    _ => self.next() as u32,
                },
                approvals_so_far: self.below(20) as u32,
                decided_at: (self.below(2) == 0).then(|| self.time()),
                decided_by: (0..self.below(3)).map(|_| self.text()).collect(),
            }
        }
    }

    fn by_hand(page: &ApprovalPage) -> String {
        let mut out = Vec::new();
        page.write_json(&mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn a_page_written_by_hand_is_byte_for_byte_what_serde_json_writes() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2_000 {
            let page = ApprovalPage {
                items: (0..rng.below(4)).map(|_| rng.summary()).collect(),
                next_cursor: (rng.below(2) == 0).then(|| rng.text()),
            };
            let serde = serde_json::to_string(&page).expect("serde_json writes the page");
            assert_eq!(by_hand(&page), serde);
        }
    }

    #[test]
    fn an_empty_page_and_times_left_to_chrono_are_written_as_serde_json_writes_them() {
        let empty = ApprovalPage {
            items: Vec::new(),
            next_cursor: None,
        };
        assert_eq!(by_hand(&empty), r#"{"items":[],"nextCursor":null}"#);
        let mut rng = Rng(7);
        let mut item = rng.summary();
        // A leap second, and the ends of chrono's range (years of more than four digits).
        item.created_at = "2016-12-31T23:59:60.5Z".parse().expect("a leap second");
        item.expires_at = DateTime::<Utc>::MAX_UTC;
        item.decided_at = Some(DateTime::<Utc>::MIN_UTC);
        let page = ApprovalPage {
            items: vec![item],
            next_cursor: Some("x".into()),
        };
        assert_eq!(
            by_hand(&page),
            serde_json::to_string(&page).expect("written")
        );
    }
}
