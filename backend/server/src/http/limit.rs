//! A small in-memory rate limit for the dev login: a fixed one-minute window per key
//! (the source address, and the email tried), so guessing passwords is slow and one
//! address cannot lock everyone out by trying their emails.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Above this many keys, finished windows are dropped before a new key is added.
const PRUNE_ABOVE: usize = 10_000;

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
        self.check_at(keys, Instant::now())
    }

    fn check_at(&self, keys: &[&str], now: Instant) -> Result<(), u64> {
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
        let mut wait = None;
        for key in keys {
            let entry = windows.entry((*key).to_string()).or_insert((now, 0));
            if now.duration_since(entry.0) >= WINDOW {
                *entry = (now, 0);
            }
            entry.1 = entry.1.saturating_add(1);
            if entry.1 > self.per_minute {
                let left = WINDOW.saturating_sub(now.duration_since(entry.0));
                let secs = left.as_secs().max(1);
                wait = Some(wait.map_or(secs, |w: u64| w.max(secs)));
            }
        }
        match wait {
            Some(secs) => Err(secs),
            None => Ok(()),
        }
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
            assert_eq!(l.check_at(&["ip:1"], t0), Ok(()));
        }
        let wait = l
            .check_at(&["ip:1"], t0 + Duration::from_secs(20))
            .unwrap_err();
        assert_eq!(wait, 40);
        assert_eq!(l.check_at(&["ip:1"], t0 + WINDOW), Ok(()));
    }

    #[test]
    fn each_key_has_its_own_count_and_any_key_over_refuses() {
        let l = RateLimiter::new(2);
        let t0 = Instant::now();
        assert!(l.check_at(&["ip:1", "email:a"], t0).is_ok());
        assert!(l.check_at(&["ip:2", "email:a"], t0).is_ok());
        // A third address trying the same email is refused: the email is over.
        assert!(l.check_at(&["ip:3", "email:a"], t0).is_err());
        assert!(l.check_at(&["ip:3", "email:b"], t0).is_ok());
    }

    #[test]
    fn a_limit_of_zero_never_refuses() {
        let l = RateLimiter::new(0);
        for _ in 0..100 {
            assert!(l.check(&["k"]).is_ok());
        }
    }
}
