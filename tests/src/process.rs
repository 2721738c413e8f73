//! The real `claimsmith` binary as a process: started on a directory, asked for its address,
//! killed with SIGKILL. Tests and benchmarks pass the path Cargo gives them
//! (`CARGO_BIN_EXE_claimsmith-under-test`).

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running server process. Killed when dropped.
#[derive(Debug)]
pub struct Process {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub addr: String,
    /// What the process writes on stderr (its logs), read until it exits.
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Process {
    /// Starts `binary` with `args` (`--listen 127.0.0.1:0` is added) and waits until it
    /// listens. `Err` holds what it printed on stderr if it exited instead.
    pub fn start<S: AsRef<OsStr>>(binary: &Path, args: &[S]) -> Result<Process, String> {
        let mut child = Command::new(binary)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let line = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|line| line.starts_with("listening on "));
        match line {
            Some(line) => {
                // Drain stderr in the background so the server never blocks on a full pipe.
                let stderr = child.stderr.take().map(|mut stderr| {
                    std::thread::spawn(move || {
                        let mut text = String::new();
                        let _ = stderr.read_to_string(&mut text);
                        text
                    })
                });
                Ok(Process {
                    child,
                    addr: line.trim_start_matches("listening on ").to_owned(),
                    stderr,
                })
            }
            None => {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                let _ = child.wait();
                Err(stderr)
            }
        }
    }

    /// SIGKILL, and wait for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, wait for the process to exit, and return how it exited and everything it
    /// wrote on stderr.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        let status = self.child.wait().expect("the process exits");
        let stderr = self
            .stderr
            .take()
            .and_then(|reader| reader.join().ok())
            .unwrap_or_default();
        (status, stderr)
    }

    /// SIGKILL, wait for it, and return everything it wrote on stderr.
    pub fn kill_and_read_stderr(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .take()
            .and_then(|reader| reader.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `binary` with `args` to completion: its exit success, stdout and stderr.
pub fn run<S: AsRef<OsStr>>(binary: &Path, args: &[S]) -> (bool, String, String) {
    match Command::new(binary).args(args).output() {
        Ok(output) => (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ),
        Err(e) => (false, String::new(), e.to_string()),
    }
}

/// A directory for a server process: the example rules under `rules/`, and `seed` (with
/// `{base}` replaced by `base`) as `seed.toml`.
pub fn deployment_dir(seed: &str, base: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    for (name, wasm) in crate::example_rules::ALL {
        std::fs::write(rules.join(format!("{name}.wasm")), wasm).expect("module");
    }
    std::fs::write(dir.path().join("seed.toml"), seed.replace("{base}", base)).expect("seed");
    dir
}

/// Seconds of CPU (user and system) process `pid` has used, from `/proc` (in clock ticks of
/// 1/100 s, Linux's `USER_HZ`).
pub fn cpu_seconds(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(0.0, |stat| stat_cpu_seconds(&stat))
}

/// The minor page faults so far of process `pid` (0 if it is gone): each is the kernel
/// mapping (and zeroing, for fresh memory) a page on first touch. A count, so unlike CPU time it
/// does not move with the speed of the machine's cores.
pub fn minor_faults(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_or(0, |stat| stat_field(&stat, 7) as u64)
}

/// The CPU seconds (user and system) of a `/proc/.../stat` line, of a process or a thread.
fn stat_cpu_seconds(stat: &str) -> f64 {
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (stat_field(stat, 11) + stat_field(stat, 12)) / 100.0
}

/// Field `index` of a `/proc/.../stat` line, counted from 0 after the command name (the state
/// is field 0); 0 where it is missing.
fn stat_field(stat: &str, index: usize) -> f64 {
    // The command name may hold spaces: the fields start after its closing parenthesis.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(index))
        .and_then(|field| field.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// Seconds the hypervisor has kept this machine's CPUs from running it (`steal` of the `cpu`
/// line of `/proc/stat`, all CPUs together): a load test's window with steal in it was
/// measured on a machine that stopped now and then, whatever the server did.
pub fn steal_seconds() -> f64 {
    std::fs::read_to_string("/proc/stat").map_or(0.0, |stat| stat_steal_seconds(&stat))
}

fn stat_steal_seconds(stat: &str) -> f64 {
    stat.lines()
        .find_map(|line| line.strip_prefix("cpu "))
        .and_then(|fields| fields.split_whitespace().nth(7)?.parse::<f64>().ok())
        .map_or(0.0, |ticks| ticks / 100.0)
}

/// What one group of a process's threads has spent so far: CPU seconds and context
/// switches (voluntary and involuntary).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ThreadUsage {
    pub threads: usize,
    pub cpu_seconds: f64,
    pub switches: u64,
}

/// The threads `pid` has now, grouped by name without its trailing number (`domain-0` and
/// `domain-1` are `domain`), from `/proc/<pid>/task/*`: where the server's CPU goes, and how
/// often its threads hand work to each other and wait. Threads that have exited are not
/// counted.
pub fn thread_usage(pid: u32) -> std::collections::BTreeMap<String, ThreadUsage> {
    let mut groups = std::collections::BTreeMap::<String, ThreadUsage>::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return groups;
    };
    for task in tasks.filter_map(Result::ok) {
        let (Ok(stat), Ok(status)) = (
            std::fs::read_to_string(task.path().join("stat")),
            std::fs::read_to_string(task.path().join("status")),
        ) else {
            continue;
        };
        let name = stat
            .split_once('(')
            .and_then(|(_, rest)| rest.rsplit_once(')'))
            .map_or("?", |(name, _)| name)
            .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-');
        let switches: u64 = status
            .lines()
            .filter(|line| line.contains("ctxt_switches:"))
            .filter_map(|line| line.rsplit(char::is_whitespace).next()?.parse::<u64>().ok())
            .sum();
        let group = groups.entry(name.to_owned()).or_default();
        group.threads += 1;
        group.cpu_seconds += stat_cpu_seconds(&stat);
        group.switches += switches;
    }
    groups
}

/// Context switches so far of the threads `pid` has now (see [`thread_usage`]).
pub fn context_switches(pid: u32) -> u64 {
    thread_usage(pid).values().map(|group| group.switches).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_grouped_by_name_without_their_number() {
        let (started, running) = std::sync::mpsc::channel();
        let release = std::sync::Arc::new(std::sync::Barrier::new(3));
        let probes: Vec<_> = (0..2)
            .map(|index| {
                let (started, release) = (started.clone(), std::sync::Arc::clone(&release));
                std::thread::Builder::new()
                    .name(format!("usage-probe-{index}"))
                    .spawn(move || {
                        started.send(()).unwrap();
                        release.wait();
                    })
                    .unwrap()
            })
            .collect();
        for _ in 0..2 {
            running.recv().unwrap();
        }
        let groups = thread_usage(std::process::id());
        let probe = groups.get("usage-probe").copied();
        assert!(!groups.contains_key("usage-probe-0"), "{groups:?}");
        release.wait();
        for probe in probes {
            probe.join().unwrap();
        }
        let probe = probe.expect("the probes' group");
        assert_eq!(probe.threads, 2);
    }

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        // A command name with spaces and a parenthesis; minflt is 4242, utime 150, stime 50.
        let stat = "77 (a (b) c) S 1 77 77 0 -1 4194560 4242 0 3 0 150 50 0 0 20 0 2 0";
        assert_eq!(stat_field(stat, 7), 4242.0);
        assert_eq!(stat_cpu_seconds(stat), 2.0);
        assert_eq!(stat_field(stat, 99), 0.0);
        assert_eq!(stat_cpu_seconds("no parenthesis here"), 0.0);
    }

    #[test]
    fn steal_is_the_eighth_figure_of_the_cpu_line() {
        let stat = "cpu  304252 51052 34182 174204 2080 0 635 167 0 0\n\
                    cpu0 152126 25526 17091 87102 1040 0 317 83 0 0\n";
        assert_eq!(stat_steal_seconds(stat), 1.67);
        assert_eq!(stat_steal_seconds("intr 1 2 3\n"), 0.0);
    }
}
