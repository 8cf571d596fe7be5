//! The real Fluent Bit as a child process, for the end-to-end tests and
//! `winrm-detect fluent-bit-bench`: finding the binaries that
//! `../shared/vendor/fluent-bit/build.sh` built, compiling the module ahead of time with its
//! `flb-wamrc`, taking the operator configurations out of the README (so that what is tested
//! is what operators paste), running one over a file until the input ends, and reading
//! what came out and what it cost.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Where `build.sh` puts its binaries when given no prefix: `fluent-bit-5.1.1`, or with
/// `FLB_WASI=0` `fluent-bit-5.1.1-nowasi`.
fn default_bin_dir(wasi: bool) -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    let suffix = if wasi { "" } else { "-nowasi" };
    Some(cache.join(format!("fluent-bit-5.1.1{suffix}")).join("bin"))
}

pub struct FluentBit {
    pub bin: PathBuf,
    /// WAMR's AOT compiler built beside it, when it was.
    pub wamrc: Option<PathBuf>,
    /// Which build, for messages: `WASI` or `no WASI, as on Windows`.
    pub build: &'static str,
    /// Whether its WAMR has WASI.
    pub wasi: bool,
}

/// What one run printed, and the CPU time it took (user + system, all threads).
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub success: bool,
    pub cpu: Duration,
}

/// The two ways Fluent Bit 5.1.1 builds its wasm filter: with WAMR's WASI library (Linux,
/// macOS: `build.sh`), and without it, the way its Windows (MSVC) builds are configured
/// (`FLB_WASI=0 build.sh`, no `flb-wamrc` either). Each: its label, the variable naming its
/// bin directory, whether it has WASI.
const BUILDS: [(&str, &str, bool); 2] = [
    ("WASI", "WINRM_DETECT_FLUENT_BIT_BIN", true),
    ("no WASI, as on Windows", "WINRM_DETECT_FLUENT_BIT_NOWASI_BIN", false),
];

impl FluentBit {
    /// An empty directory for one test's files under `target/fluent-bit-e2e`, named after the
    /// test and this build, so that the two builds' runs never share one.
    pub fn scratch_dir(&self, name: &str) -> PathBuf {
        let build = if self.wasi { "wasi" } else { "nowasi" };
        let dir = crate::workspace_root().join("target").join("fluent-bit-e2e").join(format!("{name}-{build}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory under target");
        dir
    }

    /// The WASI build: `WINRM_DETECT_FLUENT_BIT_BIN` (the directory `build.sh` printed),
    /// else the build script's default prefix. `None` when there is no `fluent-bit` there.
    pub fn locate() -> Option<FluentBit> {
        Self::locate_build(BUILDS[0])
    }

    fn locate_build((build, variable, wasi): (&'static str, &str, bool)) -> Option<FluentBit> {
        let dir = std::env::var_os(variable).map(PathBuf::from).or_else(|| default_bin_dir(wasi))?;
        Self::in_dir(&dir).map(|f| FluentBit { build, wasi, ..f })
    }

    pub fn in_dir(dir: &Path) -> Option<FluentBit> {
        let bin = dir.join("fluent-bit");
        let wamrc = dir.join("flb-wamrc");
        bin.is_file().then(|| FluentBit { bin, wamrc: wamrc.is_file().then_some(wamrc), build: "WASI", wasi: true })
    }

    /// For tests: the WASI build, or `None` (the test says what is missing and returns) —
    /// but under `CI=true` a missing Fluent Bit is a failure, not a skip.
    pub fn for_tests() -> Option<FluentBit> {
        Self::build_for_tests(BUILDS[0])
    }

    /// For tests: every build that is there, the WASI one first; under `CI=true` both must be.
    pub fn builds_for_tests() -> Vec<FluentBit> {
        BUILDS.into_iter().filter_map(Self::build_for_tests).collect()
    }

    fn build_for_tests(build: (&'static str, &str, bool)) -> Option<FluentBit> {
        let found = Self::locate_build(build);
        if found.is_none() {
            let how = if build.2 { "" } else { "FLB_WASI=0 " };
            let why = format!(
                "no Fluent Bit ({}): run `{how}bash ../shared/vendor/fluent-bit/build.sh` (or set {})",
                build.0, build.1
            );
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            eprintln!("skipped: {why}");
        }
        found
    }

    /// `flb-wamrc -o out wasm`: the module compiled for this CPU and this WAMR.
    pub fn compile_aot(&self, wasm: &Path, out: &Path) -> Result<()> {
        let wamrc = self.wamrc.as_ref().context("no flb-wamrc beside fluent-bit (built with FLB_AOT=0?)")?;
        let output = Command::new(wamrc).arg("-o").arg(out).arg(wasm).output().context("run flb-wamrc")?;
        if !output.status.success() {
            bail!("flb-wamrc failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        Ok(())
    }

    /// Runs `fluent-bit -c config` until it exits (the input ended) or `timeout` passes (it is
    /// then stopped with SIGTERM, which flushes, and the run counts as failed).
    pub fn run(&self, config: &Path, timeout: Duration) -> Result<Run> {
        self.run_with(config, timeout, None, || Ok(()))
    }

    /// [`run_until`](Self::run_until), and the checks every test makes of a run: it finished,
    /// stdout holds records only, WAMR linked every import, and (unless `exceptions_expected`)
    /// no wasm call trapped. The records, and stderr for what a test looks for in the log.
    pub fn checked_run(
        &self,
        config: &Path,
        want: usize,
        timeout: Duration,
        exceptions_expected: bool,
        feed: impl FnOnce() -> Result<()>,
    ) -> (Vec<serde_json::Map<String, serde_json::Value>>, String) {
        let run = self.run_until(config, want, timeout, feed).expect("Fluent Bit runs");
        assert!(run.success, "Fluent Bit did not finish:\n{}", log_tail(&run.stderr));
        let (records, other) = records(&run.stdout);
        assert!(
            other.is_empty(),
            "stdout carries more than records: {:?}\n{}",
            &other[..other.len().min(5)],
            run.stderr
        );
        if !exceptions_expected {
            assert!(!run.stderr.contains("exception"), "a wasm exception:\n{}", log_tail(&run.stderr));
        }
        // WAMR's loader warns of what it could not link (and the call that needs it traps).
        assert!(!run.stderr.contains("WASM module load failed"), "{}", log_tail(&run.stderr));
        assert!(!run.stderr.contains("failed to link"), "an unlinked import:\n{}", log_tail(&run.stderr));
        (records, run.stderr)
    }

    /// Runs `fluent-bit -c config`, calls `feed` once it has started (to send it traffic),
    /// and stops it with SIGTERM once `want` records (stdout lines) came out and a moment
    /// passed in which no more did, or when `timeout` passes (the run then counts as
    /// failed). Fluent Bit 5.1.1's `exit_on_eof` can lose the first records of a small
    /// file at shutdown, so the tests wait for what they expect instead.
    pub fn run_until(
        &self,
        config: &Path,
        want: usize,
        timeout: Duration,
        feed: impl FnOnce() -> Result<()>,
    ) -> Result<Run> {
        self.run_with(config, timeout, Some(want), feed)
    }

    fn run_with(
        &self,
        config: &Path,
        timeout: Duration,
        want: Option<usize>,
        feed: impl FnOnce() -> Result<()>,
    ) -> Result<Run> {
        let started = Instant::now();
        let before = children_cpu();
        let mut child = Command::new(&self.bin)
            .arg("-c")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("start {}", self.bin.display()))?;
        let pid = child.id();
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let lines = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = lines.clone();
        let out_reader = std::thread::spawn(move || {
            // Read as bytes: a record that never went through a wasm filter keeps any invalid
            // UTF-8 it was read with.
            let mut text = String::new();
            let mut reader = std::io::BufReader::new(stdout);
            let mut line = Vec::new();
            while std::io::BufRead::read_until(&mut reader, b'\n', &mut line).is_ok_and(|n| n > 0) {
                text.push_str(&String::from_utf8_lossy(&line));
                line.clear();
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            text
        });
        let err_reader = std::thread::spawn(move || read_all(stderr));
        let fed = feed();
        let mut timed_out = false;
        let mut last = (0, Instant::now());
        loop {
            if child.try_wait()?.is_some() {
                break;
            }
            let seen = lines.load(std::sync::atomic::Ordering::Relaxed);
            if seen != last.0 {
                last = (seen, Instant::now());
            }
            if let Some(want) = want
                && seen >= want
                && last.1.elapsed() > Duration::from_millis(500)
            {
                terminate(pid);
                break;
            }
            if started.elapsed() > timeout || fed.is_err() {
                timed_out = true;
                terminate(pid);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SIGTERM asks; a Fluent Bit stuck in a filter does not answer it, and a test must
        // fail rather than hang.
        let asked = Instant::now();
        while child.try_wait()?.is_none() && asked.elapsed() < Duration::from_secs(15) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if child.try_wait()?.is_none() {
            child.kill()?;
            timed_out = true;
        }
        let status = child.wait()?;
        let cpu = children_cpu().saturating_sub(before);
        fed?;
        Ok(Run {
            stdout: out_reader.join().expect("reader"),
            stderr: err_reader.join().expect("reader"),
            // Stopped on purpose, Fluent Bit 5.1.1 sometimes aborts on its way out.
            success: (status.success() || want.is_some()) && !timed_out,
            cpu,
        })
    }
}

/// Asks a process to stop (Fluent Bit flushes what it holds on SIGTERM, `serve` finishes the
/// requests in flight).
pub fn terminate(pid: u32) {
    // SAFETY: a signal to our own child, which has not been reaped yet.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
}

fn read_all(mut from: impl std::io::Read) -> String {
    let mut bytes = Vec::new();
    let _ = from.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// CPU time of every child this process has waited for.
fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The YAML block that follows `<!-- fluent-bit-config: NAME -->` in the README.
pub fn readme_config(readme: &str, name: &str) -> Result<String> {
    crate::docs::block(readme, "fluent-bit-config", name)
}

/// A YAML configuration's `pipeline` sections, as text, split so that a test can swap one.
pub struct Pipeline {
    /// Everything outside `pipeline:` (`service:`, `parsers:`...).
    pub preamble: String,
    pub inputs: String,
    pub filters: String,
    pub outputs: String,
}

impl Pipeline {
    /// Splits a configuration of the README's form: top-level keys, `pipeline:` with
    /// `inputs:`, `filters:` and `outputs:` indented by two spaces.
    pub fn parse(yaml: &str) -> Result<Pipeline> {
        let mut p =
            Pipeline { preamble: String::new(), inputs: String::new(), filters: String::new(), outputs: String::new() };
        let mut current: Option<&str> = None;
        for line in yaml.lines() {
            let indent = line.len() - line.trim_start().len();
            let key = line.trim();
            if indent == 0 && !key.is_empty() && !key.starts_with('#') {
                current = if key == "pipeline:" { Some("pipeline") } else { None };
                if current.is_some() {
                    continue;
                }
            } else if indent == 2 && current.is_some() && key.ends_with(':') && !key.starts_with('-') {
                current = Some(match key {
                    "inputs:" => "inputs",
                    "filters:" => "filters",
                    "outputs:" => "outputs",
                    other => bail!("unexpected pipeline key {other}"),
                });
                continue;
            }
            let target = match current {
                None => &mut p.preamble,
                Some("inputs") => &mut p.inputs,
                Some("filters") => &mut p.filters,
                Some("outputs") => &mut p.outputs,
                Some(_) => bail!("text between pipeline: and its first section: {line}"),
            };
            target.push_str(line);
            target.push('\n');
        }
        Ok(p)
    }

    /// The configuration as text; a pipeline without filters has no `filters:` section.
    pub fn to_yaml(&self) -> String {
        let filters = match self.filters.is_empty() {
            true => String::new(),
            false => format!("  filters:\n{}", self.filters),
        };
        format!("{}pipeline:\n  inputs:\n{}{filters}  outputs:\n{}", self.preamble, self.inputs, self.outputs)
    }
}

/// `text` with the value of every `key: …` line (any indentation, list items included)
/// set to `value`. Fails when there is none.
pub fn set_value(text: &str, key: &str, value: &str) -> Result<String> {
    let mut found = false;
    let mut out = String::new();
    for line in text.lines() {
        let body = line.trim_start().trim_start_matches("- ");
        match body.strip_prefix(key).and_then(|r| r.strip_prefix(':')) {
            Some(_) => {
                found = true;
                let head = &line[..line.len() - body.len()];
                out.push_str(&format!("{head}{key}: {value}\n"));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if !found {
        bail!("no `{key}:` in\n{text}");
    }
    Ok(out)
}

/// The value of the first `key: …` line.
pub fn value_of<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let body = line.trim_start().trim_start_matches("- ");
        body.strip_prefix(key)?.strip_prefix(':').map(str::trim)
    })
}

/// A `tail` input that reads `file` from its start (and, with `exit_on_eof`, stops Fluent
/// Bit at its end).
pub fn tail_input(file: &Path, parser: Option<&str>, tag: &str, exit_on_eof: bool) -> String {
    let parser = parser.map(|p| format!("      parser: {p}\n")).unwrap_or_default();
    format!(
        "    - name: tail\n      path: {}\n      read_from_head: true\n      exit_on_eof: {exit_on_eof}\n      buffer_max_size: 8M\n{parser}      tag: {tag}\n",
        file.display()
    )
}

/// The last 30 lines of a log, for a failure message.
pub fn log_tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Every record as one JSON line on stdout, nothing added.
pub const STDOUT_OUTPUT: &str =
    "    - name: stdout\n      match: '*'\n      format: json_lines\n      json_date_key: false\n";

/// Records dropped after the filters (for measuring).
pub const NULL_OUTPUT: &str = "    - name: 'null'\n      match: '*'\n";

/// Flush often and leave quickly once the input is done.
pub const FAST_SERVICE: &str = "service:\n  flush: 0.2\n  grace: 1\n  log_level: info\n";

/// The `json` parser that `tail` inputs of JSON lines name.
pub const JSON_PARSER: &str = "parsers:\n  - name: json\n    format: json\n";

/// The interpreter stack the README gives every `wasm` filter (`wasm_stack_size`); a test
/// checks the README's configurations against it.
pub const README_STACK_SIZE: &str = "384K";

/// The JSON records among Fluent Bit's stdout lines, and the lines that were not records.
pub fn records(stdout: &str) -> (Vec<serde_json::Map<String, serde_json::Value>>, Vec<String>) {
    let mut records = Vec::new();
    let mut other = Vec::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str(line) {
            Ok(serde_json::Value::Object(m)) => records.push(m),
            _ => other.push(line.to_string()),
        }
    }
    (records, other)
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "service:\n  flush: 1\npipeline:\n  inputs:\n    - name: winevtlog\n      tag: winevt\n  filters:\n    - name: wasm\n      wasm_path: /etc/fluent-bit/winrm_detect.wasm\n      wasm_stack_size: 256K\n  outputs:\n    - name: stdout\n      match: '*'\n";

    #[test]
    fn pipelines_split_and_join() {
        let p = Pipeline::parse(YAML).unwrap();
        assert_eq!(p.preamble, "service:\n  flush: 1\n");
        assert!(p.inputs.contains("winevtlog") && p.filters.contains("wasm_path") && p.outputs.contains("stdout"));
        assert_eq!(p.to_yaml(), YAML);
        let f = set_value(&p.filters, "wasm_path", "/tmp/m.aot").unwrap();
        assert!(f.contains("      wasm_path: /tmp/m.aot\n"), "{f}");
        assert_eq!(value_of(&f, "wasm_stack_size"), Some("256K"));
        assert!(set_value(&p.filters, "nope", "x").is_err());
        let named = set_value(&p.inputs, "name", "tail").unwrap();
        assert!(named.starts_with("    - name: tail\n"), "{named}");
        let unfiltered = Pipeline { filters: String::new(), ..p };
        assert!(!unfiltered.to_yaml().contains("filters:"));
    }

    #[test]
    fn readme_blocks_are_found_by_marker() {
        let readme = "x\n<!-- fluent-bit-config: a -->\n```yaml\nk: 1\n```\n";
        assert_eq!(readme_config(readme, "a").unwrap(), "k: 1\n");
        assert!(readme_config(readme, "b").is_err());
    }
}
