//! What `/proc` says about processes on this machine: whether a pid still runs the process it
//! ran before (its start time), and the host name — for pidfile adoption after a crash and for
//! telling a live engine from a dead one.

/// The name of this host.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map_or_else(|_| "localhost".to_owned(), |h| h.trim().to_owned())
}

/// Field 22 of `/proc/<pid>/stat`: when the process started, in clock ticks since boot. `None`
/// when there is no such process (or it is a zombie, which no longer counts as running).
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses; fields resume after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_process_has_a_start_time_and_a_reaped_one_has_none() {
        assert!(process_start_time(std::process::id()).is_some());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert_eq!(process_start_time(pid), None);
        assert!(!hostname().is_empty());
    }
}
