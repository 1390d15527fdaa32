//! A small in-memory rate limit for the dev login: a fixed one-minute window per key, so
//! guessing passwords is slow. A login attempt counts for its source address and email
//! together, and for the address alone (with a larger allowance): never for the email
//! alone, or a stranger's failed attempts at someone's email would lock that person out
//! wherever they log in from.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Above this many keys, finished windows are dropped before a new key is added.
const PRUNE_ABOVE: usize = 10_000;
/// One address may make this many times the per-email allowance of attempts in a minute,
/// all emails together (several people behind one address log in; one guesser tries many
/// emails).
pub const ADDRESS_FACTOR: u32 = 5;

pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// `per_minute` attempts per key in each minute; 0 turns the limit off.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt for every key; `Err(seconds)` when any key is over its limit.
    pub fn check(&self, keys: &[&str]) -> Result<(), u64> {
        let keys: Vec<(&str, u32)> = keys.iter().map(|k| (*k, self.per_minute)).collect();
        self.check_at(&keys, Instant::now())
    }

    /// Counts a login attempt from `address` (when known) for `email`: `per_minute` for the
    /// two together, `per_minute` × [`ADDRESS_FACTOR`] for the address alone.
    /// `Err(seconds)` when either is over.
    pub fn check_login(&self, address: Option<&str>, email: &str) -> Result<(), u64> {
        self.check_login_at(address, email, Instant::now())
    }

    fn check_login_at(&self, address: Option<&str>, email: &str, now: Instant) -> Result<(), u64> {
        let by_address = address.map(|a| format!("ip:{a}"));
        let by_both = format!(
            "ip+email:{}|{}",
            address.unwrap_or("-"),
            email.to_lowercase()
        );
        let mut keys = Vec::with_capacity(2);
        // The address first: once it is over, its attempts add no more keys.
        if let Some(a) = &by_address {
            keys.push((a.as_str(), self.per_minute.saturating_mul(ADDRESS_FACTOR)));
        }
        keys.push((by_both.as_str(), self.per_minute));
        self.check_at(&keys, now)
    }

    /// Counts an attempt for each `(key, limit)` in turn and stops at the first one over
    /// its limit (the keys after it are neither counted nor remembered).
    fn check_at(&self, keys: &[(&str, u32)], now: Instant) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        for (key, limit) in keys {
            let entry = windows.entry((*key).to_string()).or_insert((now, 0));
            if now.duration_since(entry.0) >= WINDOW {
                *entry = (now, 0);
            }
            entry.1 = entry.1.saturating_add(1);
            if entry.1 > *limit {
                let left = WINDOW.saturating_sub(now.duration_since(entry.0));
                return Err(left.as_secs().max(1));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_over_the_limit_wait_until_the_minute_is_over() {
        let l = RateLimiter::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.check_at(&[("ip:1", 3)], t0), Ok(()));
        }
        let wait = l
            .check_at(&[("ip:1", 3)], t0 + Duration::from_secs(20))
            .unwrap_err();
        assert_eq!(wait, 40);
        assert_eq!(l.check_at(&[("ip:1", 3)], t0 + WINDOW), Ok(()));
    }

    #[test]
    fn each_key_has_its_own_count_and_any_key_over_refuses() {
        let l = RateLimiter::new(2);
        let t0 = Instant::now();
        assert!(l.check(&["ip:1", "email:a"]).is_ok());
        assert!(l.check(&["ip:2", "email:a"]).is_ok());
        // A third address trying the same email is refused: the email is over.
        assert!(l.check(&["ip:3", "email:a"]).is_err());
        assert!(l.check_at(&[("ip:3", 2), ("email:b", 2)], t0).is_ok());
    }

    #[test]
    fn a_strangers_attempts_at_an_email_do_not_lock_out_its_owner_elsewhere() {
        let l = RateLimiter::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(
                l.check_login_at(Some("203.0.113.9"), "alice@example.com", t0)
                    .is_ok()
            );
        }
        // The stranger is stopped at alice's email...
        assert!(
            l.check_login_at(Some("203.0.113.9"), "Alice@Example.com", t0)
                .is_err()
        );
        // ...alice, from her own address, is not.
        assert!(
            l.check_login_at(Some("198.51.100.7"), "alice@example.com", t0)
                .is_ok()
        );
    }

    #[test]
    fn one_address_trying_many_emails_is_stopped_and_adds_no_keys_once_over() {
        let l = RateLimiter::new(2);
        let t0 = Instant::now();
        let allowed = 2 * ADDRESS_FACTOR;
        for i in 0..allowed {
            let email = format!("user{i}@example.com");
            assert!(l.check_login_at(Some("203.0.113.9"), &email, t0).is_ok());
        }
        let keys = l.windows.lock().unwrap().len();
        for i in 0..100 {
            let email = format!("other{i}@example.com");
            assert!(l.check_login_at(Some("203.0.113.9"), &email, t0).is_err());
        }
        assert_eq!(l.windows.lock().unwrap().len(), keys);
        // Another address is not affected.
        assert!(
            l.check_login_at(Some("198.51.100.7"), "user0@example.com", t0)
                .is_ok()
        );
    }

    #[test]
    fn a_limit_of_zero_never_refuses() {
        let l = RateLimiter::new(0);
        for _ in 0..100 {
            assert!(l.check(&["k"]).is_ok());
        }
    }
}
