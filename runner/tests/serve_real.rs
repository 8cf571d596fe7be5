//! `winrm-detect serve` between two real Fluent Bits (5.1.1, built by
//! `../shared/vendor/fluent-bit/build.sh`), configured from the blocks of docs/serve.md: `tail` of
//! the corpus bulk file (65,145 Sysmon events as XML lines) → `http` output (gzip, retries
//! without limit) → `serve` → the second Fluent Bit's `http` input → stdout; and the same over
//! OTLP (`opentelemetry` output → `serve --forward-format otlp` → `opentelemetry` input).
//! Every line must arrive, annotated, exactly once; when the receiving Fluent Bit is stopped
//! mid-stream and started again, and when `serve` is killed (SIGKILL) and started again, every
//! line must still arrive at least once.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use host_test::real_fluent_bit::{FluentBit, Pipeline, readme_config, set_value, terminate};

/// The user-facing pages, where the configurations run here are written (`docs/serve.md`).
fn readme() -> String {
    host_test::docs::text()
}

/// How the Fluent Bits and `serve` speak.
#[derive(Clone, Copy, PartialEq)]
enum Hop {
    /// `http` output → NDJSON in, a JSON array out → `http` input.
    Http,
    /// `opentelemetry` output → OTLP in and out → `opentelemetry` input.
    Otlp,
}

struct Scene {
    hop: Hop,
    dir: PathBuf,
    fluent_bit: FluentBit,
    input: PathBuf,
    lines: HashMap<String, usize>,
    serve_port: u16,
    receive_port: u16,
}

/// A child process stopped with SIGTERM (and waited for) when dropped.
struct Running(Child);

impl Running {
    fn stop(&mut self) {
        terminate(self.0.id());
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Scene {
    fn new(name: &str, hop: Hop) -> Option<Scene> {
        let fluent_bit = FluentBit::for_tests()?;
        let dir = std::env::temp_dir().join(format!("winrm-detect-serve-real-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = flate2::read::GzDecoder::new(std::fs::File::open(host_test::corpus_bulk("xml.gz")).unwrap());
        let mut lines: HashMap<String, usize> = HashMap::new();
        for line in std::io::BufReader::new(text).lines() {
            *lines.entry(line.unwrap()).or_default() += 1;
        }
        let input = dir.join("events.xml");
        let mut body = String::new();
        for (line, n) in &lines {
            for _ in 0..*n {
                body.push_str(line);
                body.push('\n');
            }
        }
        std::fs::write(&input, body).unwrap();
        Some(Scene {
            hop,
            dir,
            fluent_bit,
            input,
            lines,
            serve_port: host_test::free_loopback_port(),
            receive_port: host_test::free_loopback_port(),
        })
    }

    fn total(&self) -> usize {
        self.lines.values().sum()
    }

    /// The README's shipping configuration, reading our file and posting to our `serve`.
    fn ship(&self) -> Running {
        let name = if self.hop == Hop::Otlp { "serve-ship-otlp" } else { "serve-ship" };
        let yaml = readme_config(&readme(), name).unwrap();
        let yaml = set_value(&yaml, "path", &self.input.display().to_string()).unwrap();
        let yaml = set_value(&yaml, "port", &self.serve_port.to_string()).unwrap();
        // Quick retries and flushes: the test waits for them.
        let yaml = set_value(&yaml, "scheduler.cap", "2").unwrap();
        let yaml = set_value(&yaml, "flush", "0.2").unwrap();
        let path = self.dir.join("ship.yaml");
        std::fs::write(&path, Pipeline::parse(&yaml).unwrap().to_yaml()).unwrap();
        self.spawn(&path, Stdio::null())
    }

    /// The README's receiving configuration on our port, its stdout into `out`.
    fn receive(&self, out: &Path) -> Running {
        let name = if self.hop == Hop::Otlp { "serve-receive-otlp" } else { "serve-receive" };
        let yaml = readme_config(&readme(), name).unwrap();
        let yaml = set_value(&yaml, "port", &self.receive_port.to_string()).unwrap();
        let path = self.dir.join("receive.yaml");
        std::fs::write(
            &path,
            format!("service:\n  flush: 0.2\n  grace: 5\n{}", Pipeline::parse(&yaml).unwrap().to_yaml()),
        )
        .unwrap();
        self.spawn(&path, Stdio::from(std::fs::File::create(out).unwrap()))
    }

    fn spawn(&self, config: &Path, stdout: Stdio) -> Running {
        let child = Command::new(&self.fluent_bit.bin)
            .arg("-c")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::from(std::fs::File::create(config.with_extension("log")).unwrap()))
            .spawn()
            .unwrap();
        Running(child)
    }

    /// `serve` as the README runs it for this hop, its log in `log`.
    fn serve(&self, log: &str) -> Running {
        let (path, format) = match self.hop {
            Hop::Http => ("/winrm-detect", "json-array"),
            Hop::Otlp => ("/v1/logs", "otlp"),
        };
        let child = Command::new(env!("CARGO_BIN_EXE_winrm-detect"))
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.serve_port)])
            .args(["--forward", &format!("http://127.0.0.1:{}{path}", self.receive_port)])
            .args(["--forward-format", format, "--forward-timeout", "5"])
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(self.dir.join(log)).unwrap()))
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.serve_port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "serve did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Running(child)
    }

    /// Every event that came out of the receiving Fluent Bit so far, counted by its text, and
    /// the distinct events among them that something fired on.
    fn received(&self, outs: &[PathBuf]) -> (HashMap<String, usize>, usize) {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut matched = std::collections::HashSet::new();
        for out in outs {
            let Ok(text) = std::fs::read_to_string(out) else { continue };
            for line in text.lines().filter(|l| l.starts_with('{')) {
                // A line still being written is read next time.
                let Ok(document) = serde_json::from_str::<serde_json::Value>(line) else { continue };
                for (event, fired) in self.events_of(&document, line) {
                    if fired {
                        matched.insert(event.clone());
                    }
                    *seen.entry(event).or_default() += 1;
                }
            }
        }
        (seen, matched.len())
    }

    /// The events of one line of the receiver's output, each with whether something fired on
    /// it: a JSON record (`log`, and `winrm_detect` only when something fired, see
    /// `winrm_detect::record`), or an OTLP/JSON document (a string body, `security_rule.uuid`).
    fn events_of(&self, document: &serde_json::Value, line: &str) -> Vec<(String, bool)> {
        match self.hop {
            Hop::Http => {
                let fired = document.get("winrm_detect").map(|annotations| {
                    let annotations = annotations.as_array().unwrap_or_else(|| panic!("not a list: {line:.300}"));
                    assert!(!annotations.is_empty(), "an empty list: {line:.300}");
                });
                let log = document["log"].as_str().unwrap_or_else(|| panic!("no log: {line:.300}"));
                vec![(log.to_string(), fired.is_some())]
            }
            Hop::Otlp => {
                let mut events = Vec::new();
                let resources = document["resourceLogs"].as_array().unwrap_or_else(|| panic!("not OTLP: {line:.300}"));
                for scope in resources.iter().flat_map(|r| r["scopeLogs"].as_array().into_iter().flatten()) {
                    for record in scope["logRecords"].as_array().into_iter().flatten() {
                        let body =
                            record["body"]["stringValue"].as_str().unwrap_or_else(|| panic!("no body: {line:.300}"));
                        let attributes = record["attributes"].as_array().into_iter().flatten();
                        let fired = attributes.into_iter().any(|a| a["key"] == "security_rule.uuid");
                        events.push((body.to_string(), fired));
                    }
                }
                events
            }
        }
    }

    /// Waits until every line came out at least once (or `timeout`).
    fn wait_for_all(&self, outs: &[PathBuf], timeout: Duration) -> (HashMap<String, usize>, usize) {
        let started = Instant::now();
        loop {
            let (seen, matched) = self.received(outs);
            if seen.len() == self.lines.len() || started.elapsed() > timeout {
                return (seen, matched);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Waits until at least `n` distinct events came out into `out`.
    fn wait_for_events(&self, out: &Path, n: usize) {
        let started = Instant::now();
        while self.received(&[out.to_path_buf()]).0.len() < n {
            assert!(started.elapsed() < Duration::from_secs(120), "fewer than {n} events arrived");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The batches `serve` answered 503 so far, by its log `log`, and that log.
    fn refusals(&self, log: &str) -> (usize, String) {
        let text = std::fs::read_to_string(self.dir.join(log)).unwrap_or_default();
        (text.lines().filter(|l| l.contains("answered 503")).count(), text)
    }

    /// Waits (a minute at most) until `serve` has answered a batch 503 for the receiver's
    /// absence: when that happens depends on when the shipper next sends, and a fixed 3 s
    /// pause once saw no batch at all.
    fn wait_for_a_refusal(&self, log: &str) {
        let away = Instant::now();
        while self.refusals(log).0 == 0 && away.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn missing(&self, seen: &HashMap<String, usize>) -> usize {
        self.lines.iter().filter(|(line, _)| !seen.contains_key(*line)).map(|(_, n)| n).sum()
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        // A failed test leaves its configurations, logs and outputs to read.
        if std::thread::panicking() {
            eprintln!("kept for reading: {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[test]
fn every_line_arrives_annotated_exactly_once() {
    let Some(scene) = Scene::new("once", Hop::Http) else { return };
    let out = scene.dir.join("received.jsonl");
    let _receive = scene.receive(&out);
    let _serve = scene.serve("serve.log");
    std::thread::sleep(Duration::from_millis(500));
    let _ship = scene.ship();
    let (seen, matched) = scene.wait_for_all(std::slice::from_ref(&out), Duration::from_secs(300));
    // A moment for any duplicate to show before counting.
    std::thread::sleep(Duration::from_secs(2));
    let (seen_after, _) = scene.received(std::slice::from_ref(&out));
    assert_eq!(scene.missing(&seen), 0, "lines lost of {}", scene.total());
    let extra: usize =
        scene.lines.iter().map(|(l, n)| seen_after.get(l).copied().unwrap_or(0).saturating_sub(*n)).sum();
    assert_eq!(extra, 0, "lines delivered more than once");
    assert_eq!(matched, 1, "the corpus holds one parity positive");
    println!("serve between two Fluent Bits: {} events, each once, {matched} match", scene.total());
}

#[test]
fn a_receiver_restart_loses_nothing() {
    let Some(scene) = Scene::new("restart", Hop::Http) else { return };
    let first = scene.dir.join("received-1.jsonl");
    let second = scene.dir.join("received-2.jsonl");
    let mut receive = scene.receive(&first);
    let _serve = scene.serve("serve.log");
    std::thread::sleep(Duration::from_millis(500));
    let _ship = scene.ship();
    // Stop the receiver once part of the stream went through.
    scene.wait_for_events(&first, 5_000);
    receive.stop();
    let before = scene.received(std::slice::from_ref(&first)).0.len();
    scene.wait_for_a_refusal("serve.log");
    let _receive = scene.receive(&second);
    let outs = [first, second];
    let (seen, _) = scene.wait_for_all(&outs, Duration::from_secs(300));
    let delivered: usize = seen.values().sum();
    assert_eq!(scene.missing(&seen), 0, "lines lost across the restart (of {})", scene.total());
    // One reading of the log: the count and the text shown with it agree.
    let (refused, serve_log) = scene.refusals("serve.log");
    assert!(refused > 0, "the receiver's absence never showed:\n{serve_log}");
    println!(
        "receiver restarted after {before} of {} events: all arrived ({delivered} deliveries, {} duplicates), \
         {refused} batches answered 503 meanwhile",
        scene.total(),
        delivered - scene.total()
    );
}

/// OTLP from end to end, through both faults: `serve` killed (SIGKILL, nothing finished) and,
/// while it is away, the receiver stopped; `serve` started again and answering 503 until the
/// receiver is back. Nothing is lost; what was sent twice is counted.
#[test]
fn otlp_through_a_killed_serve_and_a_receiver_restart_loses_nothing() {
    let Some(scene) = Scene::new("otlp", Hop::Otlp) else { return };
    let first = scene.dir.join("received-1.jsonl");
    let second = scene.dir.join("received-2.jsonl");
    let mut receive = scene.receive(&first);
    let mut serve = scene.serve("serve-1.log");
    std::thread::sleep(Duration::from_millis(500));
    let _ship = scene.ship();
    scene.wait_for_events(&first, 5_000);
    serve.0.kill().unwrap();
    let _ = serve.0.wait();
    let killed_at = scene.received(std::slice::from_ref(&first)).0.len();
    // The shipper finds serve gone and keeps its batches. The receiver goes too, before serve
    // is back: the rest of the stream waits on both faults (once serve is back, the shipper's
    // backlog would otherwise pass in a moment, before a receiver stopped then could miss it).
    std::thread::sleep(Duration::from_secs(2));
    receive.stop();
    let _serve = scene.serve("serve-2.log");
    scene.wait_for_a_refusal("serve-2.log");
    let _receive = scene.receive(&second);
    let outs = [first, second];
    let (seen, matched) = scene.wait_for_all(&outs, Duration::from_secs(300));
    let delivered: usize = seen.values().sum();
    assert_eq!(scene.missing(&seen), 0, "lines lost (of {})", scene.total());
    assert_eq!(matched, 1, "the corpus holds one parity positive, with security_rule.uuid");
    let (refused, serve_log) = scene.refusals("serve-2.log");
    assert!(refused > 0, "the receiver's absence never showed:\n{serve_log}");
    println!(
        "OTLP between two Fluent Bits: serve killed after {killed_at} of {} events and restarted, the receiver \
         stopped and restarted meanwhile: all arrived ({delivered} deliveries, {} duplicates), {refused} batches answered 503 meanwhile",
        scene.total(),
        delivered - scene.total()
    );
}
