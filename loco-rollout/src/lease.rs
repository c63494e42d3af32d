//! Which engine owns a rollout, and when another engine may take it over.
//!
//! An owner is `host/pid/start-time/engine`: the process, and which engine inside it (one process
//! may open several). It proves it is alive with a heartbeat written every [`heartbeat_every`] of
//! its lease by a task of its own, whatever its steps are doing. Another engine may take the
//! rollout over when the owner handed it back (closed), when the owner's process is gone (same
//! host: its pid is free or reused), or when its heartbeat is older than the lease. Every hand-over
//! grows the rollout's fencing token, and every write and platform call made for the rollout
//! carries the token its writer holds, so an owner that was taken over — a process that was
//! frozen, say — can no longer change anything when it wakes up.

use std::time::Duration;

use loco_platform::local::procfs::{hostname, process_start_time};
use loco_types::model::Timestamp;

/// How long a rollout's heartbeat may be silent before another engine may take it over, by
/// default.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// How often an owner writes its heartbeat: six times per lease, so a few slow writes in a row
/// do not cost it the rollout.
pub fn heartbeat_every(lease: Duration) -> Duration {
    (lease / 6).max(Duration::from_millis(50))
}

/// A new owner name for an engine of the current process.
pub(crate) fn new_owner() -> String {
    let pid = std::process::id();
    let start = process_start_time(pid).unwrap_or(0);
    format!("{}/{pid}/{start}/{}", hostname(), ulid::Ulid::new())
}

/// True when another engine may take over a rollout owned by `owner` whose last heartbeat was
/// `heartbeat_at`: nobody owns it, the owner's process on this host is gone, or the heartbeat is
/// older than `lease`.
pub(crate) fn is_gone(owner: &str, heartbeat_at: Timestamp, lease: Duration) -> bool {
    if owner.is_empty() {
        return true;
    }
    let mut parts = owner.split('/');
    if let (Some(host), Some(pid), Some(start)) = (parts.next(), parts.next(), parts.next())
        && host == hostname()
        && let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>())
        && process_start_time(pid) != Some(start)
    {
        return true;
    }
    let silent = (Timestamp::now().as_datetime() - heartbeat_at.as_datetime()).to_std().unwrap_or_default();
    silent > lease
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(30);

    #[test]
    fn a_live_owner_with_a_fresh_heartbeat_keeps_its_rollout_and_a_dead_one_loses_it_at_once() {
        let me = new_owner();
        assert!(!is_gone(&me, Timestamp::now(), LEASE));
        assert_ne!(new_owner(), me, "two engines of one process are two owners");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = process_start_time(pid);
        child.wait().unwrap();
        let dead = format!("{}/{pid}/{}/engine", hostname(), start.unwrap_or(1));
        assert!(is_gone(&dead, Timestamp::now(), LEASE), "no need to wait for the lease");
        assert!(is_gone("", Timestamp::now(), LEASE), "handed back");
    }

    #[test]
    fn a_silent_owner_loses_its_rollout_after_the_lease() {
        let stale = Timestamp::now().after(Duration::ZERO);
        let long_ago = Timestamp::parse("2020-01-01T00:00:00Z").unwrap();
        assert!(!is_gone("elsewhere/1/1/e", stale, LEASE));
        assert!(is_gone("elsewhere/1/1/e", long_ago, LEASE), "another host: the heartbeat decides");
        assert!(is_gone(&new_owner(), long_ago, LEASE), "a live process whose engine stopped beating");
    }
}
