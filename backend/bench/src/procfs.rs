//! What the kernel says about this machine and about a live process, from /proc.

/// The CPU's model name, from /proc/cpuinfo.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// The machine's memory, in whole GiB (rounded), from /proc/meminfo.
pub fn mem_total_gib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map_or(0, |kib| (kib + 512 * 1024) / (1024 * 1024))
}

/// The peak resident memory of a live process (VmHWM), in KiB.
pub fn peak_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:")
}

/// A KiB figure of a live process's `/proc/<pid>/status`, such as `RssFile:`.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse().ok())
        })
        .unwrap_or(0)
}

/// The CPU time a live process's threads have had, in ms: the sum of their
/// `/proc/<pid>/task/*/schedstat` (nanoseconds on a CPU). Threads that already ended are not
/// in it; Hanko's and Node's threads all live until the process is stopped.
pub fn cpu_ms(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return f64::NAN;
    };
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    ns as f64 / 1e6
}

/// The page faults a live process has taken (minor and major, all its threads), from
/// `/proc/<pid>/stat`. With the page cache warm, most of a cold start's kernel time is these.
pub fn page_faults(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(0, |stat| faults_in_stat(&stat))
}

/// minflt + majflt of a `/proc/<pid>/stat` line.
fn faults_in_stat(stat: &str) -> u64 {
    // The fields after the command name, which is in parentheses and may hold spaces.
    let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // minflt is field 10 of the whole line and majflt field 12: 8th and 10th after the name.
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(7) + field(9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_faults_are_minor_plus_major_even_when_the_command_name_holds_spaces() {
        let stat = "4242 (tokio rt) S 1 4242 4242 0 -1 4194560 1200 0 3 0 5 2 0 0 20 0 4 0";
        assert_eq!(faults_in_stat(stat), 1203);
    }

    #[test]
    fn this_process_has_a_peak_memory_and_has_taken_page_faults() {
        let me = std::process::id();
        assert!(peak_kib(me) > 0);
        assert!(page_faults(me) > 0);
    }
}
