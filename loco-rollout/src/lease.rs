//! Which engine process owns a rollout, and whether that process is still alive — so a restarted
//! engine can take over rollouts whose owner crashed, and leave alone those of a live one.

use std::time::Duration;

use loco_platform::local::procfs::{hostname, process_start_time};
use loco_types::model::Timestamp;

/// How long a rollout's heartbeat may be silent before another engine may take it over, when the
/// owner's liveness cannot be checked directly (another host).
pub const LEASE: Duration = Duration::from_secs(60);

/// `host/pid/start-time` of the current process.
pub(crate) fn current() -> String {
    let pid = std::process::id();
    let start = process_start_time(pid).unwrap_or(0);
    format!("{}/{pid}/{start}", hostname())
}

/// True when `owner` is certainly gone: a process on this host that no longer runs (its pid is
/// free or reused), or any owner whose heartbeat is older than [`LEASE`].
pub(crate) fn is_gone(owner: &str, heartbeat_at: Timestamp) -> bool {
    let silent = (Timestamp::now().as_datetime() - heartbeat_at.as_datetime()).to_std().unwrap_or_default();
    if silent > LEASE {
        return true;
    }
    let mut parts = owner.rsplitn(3, '/');
    let (Some(start), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else { return false };
    if host != hostname() {
        return false;
    }
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else { return false };
    process_start_time(pid) != Some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_one_is_gone() {
        let me = current();
        assert!(!is_gone(&me, Timestamp::now()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = process_start_time(pid);
        child.wait().unwrap();
        let dead = format!("{}/{pid}/{}", hostname(), start.unwrap_or(1));
        assert!(is_gone(&dead, Timestamp::now()));
    }

    #[test]
    fn other_hosts_are_judged_by_their_heartbeat() {
        let fresh = Timestamp::now();
        assert!(!is_gone("elsewhere/1/1", fresh));
        let stale = Timestamp::parse("2020-01-01T00:00:00Z").unwrap();
        assert!(is_gone("elsewhere/1/1", stale));
    }
}
