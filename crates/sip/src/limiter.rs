//! Per-source limit on failed authentications: a source address that fails too often in a
//! window is refused (403) for a while without the registrar checking credentials, so a
//! password-guessing client cannot use the server as an oracle at line rate.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The limits.
#[derive(Debug, Clone, Copy)]
pub struct LimiterConfig {
    /// Failures allowed per source in `window`.
    pub max_failures: u32,
    pub window: Duration,
    /// How long a source is refused once over the limit.
    pub block: Duration,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        LimiterConfig {
            max_failures: 20,
            window: Duration::from_secs(60),
            block: Duration::from_secs(60),
        }
    }
}

struct Record {
    window_start: Instant,
    failures: u32,
    blocked_until: Option<Instant>,
}

/// Failure counts per source address.
pub struct FailureLimiter {
    config: LimiterConfig,
    sources: Mutex<HashMap<IpAddr, Record>>,
}

impl FailureLimiter {
    pub fn new(config: LimiterConfig) -> FailureLimiter {
        FailureLimiter {
            config,
            sources: Mutex::new(HashMap::new()),
        }
    }

    /// Until when `source` is refused, if it is.
    pub fn blocked(&self, source: IpAddr, now: Instant) -> Option<Instant> {
        let sources = self.sources.lock().ok()?;
        sources
            .get(&source)?
            .blocked_until
            .filter(|until| *until > now)
    }

    /// Counts a failed authentication from `source`.
    pub fn fail(&self, source: IpAddr, now: Instant) {
        let Ok(mut sources) = self.sources.lock() else {
            return;
        };
        if sources.len() > 100_000 {
            let window = self.config.window;
            sources.retain(|_, r| {
                r.blocked_until.is_some_and(|u| u > now)
                    || now.duration_since(r.window_start) < window
            });
        }
        let record = sources.entry(source).or_insert(Record {
            window_start: now,
            failures: 0,
            blocked_until: None,
        });
        if now.duration_since(record.window_start) >= self.config.window {
            record.window_start = now;
            record.failures = 0;
        }
        record.failures += 1;
        if record.failures > self.config.max_failures {
            record.blocked_until = Some(now + self.config.block);
            record.failures = 0;
            record.window_start = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_failures_block_for_a_while() {
        let l = FailureLimiter::new(LimiterConfig {
            max_failures: 3,
            window: Duration::from_secs(10),
            block: Duration::from_secs(30),
        });
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..3 {
            l.fail(ip, t0 + Duration::from_secs(i));
        }
        assert!(l.blocked(ip, t0 + Duration::from_secs(3)).is_none());
        l.fail(ip, t0 + Duration::from_secs(4));
        assert!(l.blocked(ip, t0 + Duration::from_secs(5)).is_some());
        assert!(l.blocked(other, t0 + Duration::from_secs(5)).is_none());
        assert!(l.blocked(ip, t0 + Duration::from_secs(35)).is_none());
    }

    #[test]
    fn failures_spread_over_windows_do_not_block() {
        let l = FailureLimiter::new(LimiterConfig {
            max_failures: 2,
            window: Duration::from_secs(10),
            block: Duration::from_secs(30),
        });
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..10 {
            l.fail(ip, t0 + Duration::from_secs(i * 6));
            assert!(l.blocked(ip, t0 + Duration::from_secs(i * 6)).is_none());
        }
    }
}
