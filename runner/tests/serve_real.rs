//! `winrm-detect serve` between two real Fluent Bits (5.1.1, built by
//! `../shared/vendor/fluent-bit/build.sh`), configured from the blocks of docs/serve.md: `tail` of
//! the corpus bulk file (65,145 Sysmon events as XML lines) → `http` output (gzip, retries
//! without limit) → `serve` → the second Fluent Bit's `http` input → stdout; and the same over
//! OTLP (`opentelemetry` output → `serve --forward-format otlp` → `opentelemetry` input). Then
//! between two real Vectors (0.57.0, from `../shared/vendor/vector/install.sh`), also configured
//! from the docs: `file` source → `http` sink → `serve` → `http_server` source → `file` sink, and
//! over OTLP (Fluent Bit → Vector's `opentelemetry` source and sink → `serve` → Vector's
//! `opentelemetry` source → `file` sink).
//! Every line must arrive, annotated, exactly once; when the receiver is stopped mid-stream and
//! started again, and when `serve` is killed (SIGKILL) and started again, every line must still
//! arrive at least once.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use host_test::ScratchDir;
use host_test::certificates::{Authority, Pair};
use host_test::real_fluent_bit::{FluentBit, Pipeline, readme_config, set_value, terminate};
use host_test::vector;

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
    /// `http` output with TLS and a client certificate → `serve` with TLS, asking for one →
    /// `http` input with TLS (`--forward https://…`, verified against the test's CA).
    Https,
}

/// The certificates of a TLS scene: the CA, the certificate `serve` and the receiving Fluent
/// Bit show (for `localhost`), and the shipper's client certificate.
struct Certs {
    authority: Authority,
    server: Pair,
    shipper: Pair,
}

impl Certs {
    fn make(dir: &Path) -> Certs {
        let authority = Authority::new(dir, "winrm-detect");
        let server = authority.sign("server", &["localhost"], false);
        let shipper = authority.sign("shipper", &["shipper"], false);
        Certs { authority, server, shipper }
    }
}

/// Who ships to `serve` and receives from it.
#[derive(Clone, PartialEq)]
enum Shipper {
    FluentBit,
    /// Vector, this binary, at both ends (over OTLP, fed by Fluent Bit's `opentelemetry` output).
    Vector(PathBuf),
}

struct Scene {
    hop: Hop,
    shipper: Shipper,
    certs: Option<Certs>,
    dir: ScratchDir,
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
        Scene::with(name, hop, Shipper::FluentBit)
    }

    /// The same scene with Vector at both ends, if there is a Vector.
    fn with_vector(name: &str, hop: Hop) -> Option<Scene> {
        Scene::with(name, hop, Shipper::Vector(vector::for_tests()?))
    }

    fn with(name: &str, hop: Hop, shipper: Shipper) -> Option<Scene> {
        let fluent_bit = FluentBit::for_tests()?;
        let dir = ScratchDir::new(&format!("serve-real-{name}"));
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
        let certs = (hop == Hop::Https).then(|| Certs::make(&dir));
        Some(Scene {
            hop,
            shipper,
            certs,
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

    /// The docs' shipping configuration, reading our file and posting to our `serve`: what
    /// runs for it (over OTLP with Vector, Fluent Bit feeding Vector's relay).
    fn ship(&self) -> Vec<Running> {
        let Shipper::Vector(_) = self.shipper else { return vec![self.ship_fluent_bit(self.serve_port)] };
        let serve = self.serve_port.to_string();
        match self.hop {
            Hop::Http | Hop::Https => {
                let yaml = vector::docs_config("serve-ship").unwrap();
                let yaml = set_value(&yaml, "include", &format!("[{}]", self.input.display())).unwrap();
                let yaml = replaced(&yaml, "127.0.0.1:8089", &format!("127.0.0.1:{serve}"));
                vec![self.spawn_vector(&yaml, "ship")]
            }
            Hop::Otlp => {
                let relay = host_test::free_loopback_port();
                let yaml = vector::docs_config("serve-relay-otlp").unwrap();
                let yaml = replaced(&yaml, "127.0.0.1:4318", &format!("127.0.0.1:{relay}"));
                let grpc = host_test::free_loopback_port();
                let yaml = replaced(&yaml, "127.0.0.1:4317", &format!("127.0.0.1:{grpc}"));
                let yaml = replaced(&yaml, "127.0.0.1:8089", &format!("127.0.0.1:{serve}"));
                vec![self.spawn_vector(&yaml, "relay"), self.ship_fluent_bit(relay)]
            }
        }
    }

    /// The docs' Fluent Bit configuration for this hop and `side` (`ship` or `receive`), with
    /// the test's certificates where it names some.
    fn fluent_bit_config(&self, side: &str) -> String {
        let name = match self.hop {
            Hop::Http => format!("serve-{side}"),
            Hop::Otlp => format!("serve-{side}-otlp"),
            Hop::Https => format!("serve-{side}-tls"),
        };
        let mut yaml = readme_config(&readme(), &name).unwrap();
        if let Some(certs) = &self.certs {
            let pair = if side == "ship" { &certs.shipper } else { &certs.server };
            yaml = set_value(&yaml, "tls.crt_file", &pair.cert.display().to_string()).unwrap();
            yaml = set_value(&yaml, "tls.key_file", &pair.key.display().to_string()).unwrap();
            if side == "ship" {
                yaml = set_value(&yaml, "tls.ca_file", &certs.authority.pem.display().to_string()).unwrap();
                // The name serve's certificate is for; the address is loopback's.
                yaml = set_value(&yaml, "host", "127.0.0.1").unwrap();
                yaml = set_value(&yaml, "tls.vhost", "localhost").unwrap();
            }
        }
        yaml
    }

    /// The docs' Fluent Bit shipping configuration, posting to `port`.
    fn ship_fluent_bit(&self, port: u16) -> Running {
        self.ship_fluent_bit_as(port, &self.fluent_bit_config("ship"), "ship")
    }

    /// A shipping Fluent Bit with `yaml` (its input and port set here), its files `NAME.*`.
    fn ship_fluent_bit_as(&self, port: u16, yaml: &str, name: &str) -> Running {
        let yaml = set_value(yaml, "path", &self.input.display().to_string()).unwrap();
        let yaml = set_value(&yaml, "port", &port.to_string()).unwrap();
        // Quick retries and flushes: the test waits for them.
        let yaml = set_value(&yaml, "scheduler.cap", "2").unwrap();
        let yaml = set_value(&yaml, "flush", "0.2").unwrap();
        let path = self.dir.join(format!("{name}.yaml"));
        std::fs::write(&path, Pipeline::parse(&yaml).unwrap().to_yaml()).unwrap();
        self.spawn(&path, Stdio::null())
    }

    /// The docs' receiving configuration on our port, what it receives into `out`.
    fn receive(&self, out: &Path) -> Running {
        if let Shipper::Vector(_) = self.shipper {
            let (name, address) = match self.hop {
                Hop::Http | Hop::Https => ("serve-receive", "127.0.0.1:8090"),
                Hop::Otlp => ("serve-receive-otlp", "127.0.0.1:4320"),
            };
            let yaml = vector::docs_config(name).unwrap();
            let yaml = replaced(&yaml, address, &format!("127.0.0.1:{}", self.receive_port));
            let grpc = host_test::free_loopback_port();
            let yaml = yaml.replace("127.0.0.1:4327", &format!("127.0.0.1:{grpc}"));
            let yaml = set_value(&yaml, "path", &out.display().to_string()).unwrap();
            let stem = out.file_stem().unwrap().to_string_lossy().into_owned();
            return self.spawn_vector(&yaml, &stem);
        }
        let yaml = self.fluent_bit_config("receive");
        let yaml = set_value(&yaml, "port", &self.receive_port.to_string()).unwrap();
        let path = self.dir.join("receive.yaml");
        std::fs::write(
            &path,
            format!("service:\n  flush: 0.2\n  grace: 5\n{}", Pipeline::parse(&yaml).unwrap().to_yaml()),
        )
        .unwrap();
        self.spawn(&path, Stdio::from(std::fs::File::create(out).unwrap()))
    }

    /// Vector with `yaml`, its own `data_dir` and quick retries (the test waits for them), its
    /// log in `NAME.log`.
    fn spawn_vector(&self, yaml: &str, name: &str) -> Running {
        let Shipper::Vector(bin) = &self.shipper else { unreachable!("no Vector in this scene") };
        let data = self.dir.join(format!("{name}-data"));
        std::fs::create_dir_all(&data).unwrap();
        let yaml = set_value(yaml, "data_dir", &data.display().to_string()).unwrap();
        let yaml =
            yaml.replace("\n  winrm_detect:\n", "\n  winrm_detect:\n    request:\n      retry_max_duration_secs: 2\n");
        let config = self.dir.join(format!("{name}.yaml"));
        std::fs::write(&config, yaml).unwrap();
        let log = std::fs::File::create(config.with_extension("log")).unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        Running(child)
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
        // As docs/serve.md runs it for each: Fluent Bit's `http` input takes a JSON array at
        // the path it tags by, Vector's `http_server` NDJSON at `/`.
        let (path, format) = match (&self.shipper, self.hop) {
            (_, Hop::Otlp) => ("/v1/logs", "otlp"),
            (Shipper::FluentBit, Hop::Http | Hop::Https) => ("/winrm-detect", "json-array"),
            (Shipper::Vector(_), Hop::Http | Hop::Https) => ("/", "ndjson"),
        };
        // With TLS, as docs/serve.md runs it across a network: its certificate, client
        // certificates from the CA required, the next hop verified against the CA.
        let (scheme, tls) = match &self.certs {
            None => ("http", Vec::new()),
            Some(c) => {
                let mut args =
                    vec!["--tls-cert".into(), c.server.cert.clone(), "--tls-key".into(), c.server.key.clone()];
                let ca = &c.authority.pem;
                args.extend(["--tls-client-ca".into(), ca.clone(), "--forward-ca".into(), ca.clone()]);
                ("https", args)
            }
        };
        let host = if self.certs.is_some() { "localhost" } else { "127.0.0.1" };
        let child = Command::new(env!("CARGO_BIN_EXE_winrm-detect"))
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.serve_port)])
            .args(["--forward", &format!("{scheme}://{host}:{}{path}", self.receive_port)])
            .args(["--forward-format", format, "--forward-timeout", "5"])
            .args(tls)
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
            Hop::Http | Hop::Https => {
                let fired = document.get("winrm_detect").map(|annotations| {
                    let annotations = annotations.as_array().unwrap_or_else(|| panic!("not a list: {line:.300}"));
                    assert!(!annotations.is_empty(), "an empty list: {line:.300}");
                });
                // Fluent Bit's `tail` names the line `log`, Vector's `file` source `message`.
                let log = document.get("log").or_else(|| document.get("message"));
                let log = log.and_then(|l| l.as_str()).unwrap_or_else(|| panic!("no log: {line:.300}"));
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

    /// Deliveries beyond each line's count in the input: the duplicates.
    fn extra(&self, seen: &HashMap<String, usize>) -> usize {
        self.lines.iter().map(|(l, n)| seen.get(l).copied().unwrap_or(0).saturating_sub(*n)).sum()
    }
}

/// `text` with `from` (which it must hold: the docs' address the test moves) as `to`.
fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "no {from} in\n{text}");
    text.replace(from, to)
}

#[test]
fn every_line_arrives_annotated_exactly_once() {
    let Some(scene) = Scene::new("once", Hop::Http) else { return };
    exactly_once(scene, "serve between two Fluent Bits");
}

/// Across a network, as docs/serve.md configures it: TLS from the shipping Fluent Bit (with
/// its client certificate) into `serve`, and from `serve` into the receiving Fluent Bit.
#[test]
fn over_tls_both_ways_every_line_arrives_once() {
    let Some(scene) = Scene::new("tls", Hop::Https) else { return };
    exactly_once(scene, "serve between two Fluent Bits over TLS");
}

/// Fluent Bits that cannot show a certificate from the CA (one from another CA, an expired one,
/// none) are refused by `serve`: nothing of theirs arrives, and the right shipper, started
/// after them beside the ones still retrying, delivers every line once.
#[test]
fn over_tls_a_shipper_without_a_certificate_from_the_ca_is_refused() {
    let Some(scene) = Scene::new("tls-refused", Hop::Https) else { return };
    let certs = scene.certs.as_ref().unwrap();
    let stranger = Authority::new(&scene.dir, "other").sign("stranger", &["stranger"], false);
    let expired = certs.authority.sign("expired", &["expired"], true);
    let out = scene.dir.join("received.jsonl");
    let _receive = scene.receive(&out);
    let _serve = scene.serve("serve.log");
    let docs = scene.fluent_bit_config("ship");
    let with = |pair: &Pair| {
        let yaml = set_value(&docs, "tls.crt_file", &pair.cert.display().to_string()).unwrap();
        set_value(&yaml, "tls.key_file", &pair.key.display().to_string()).unwrap()
    };
    let none: String = docs
        .lines()
        .filter(|l| !l.contains("tls.crt_file") && !l.contains("tls.key_file"))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut refused = Vec::new();
    for (name, yaml) in [("stranger", with(&stranger)), ("expired", with(&expired)), ("none", none)] {
        refused.push(scene.ship_fluent_bit_as(scene.serve_port, &yaml, name));
    }
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(scene.received(std::slice::from_ref(&out)).0.len(), 0, "a refused shipper's events arrived");
    for name in ["stranger", "expired", "none"] {
        let log = std::fs::read_to_string(scene.dir.join(format!("{name}.log"))).unwrap_or_default();
        assert!(log.to_ascii_lowercase().contains("tls"), "{name}: no TLS error in its log:\n{log}");
    }
    let _ship = scene.ship();
    let (seen, _) = scene.wait_for_all(std::slice::from_ref(&out), Duration::from_secs(300));
    assert_eq!(scene.missing(&seen), 0, "lines lost of {}", scene.total());
    assert_eq!(scene.extra(&seen), 0, "lines delivered more than once");
    println!(
        "over TLS: shippers with another CA's, an expired or no certificate refused (nothing arrived in 8 s); \
         the right one beside them delivered all {} events once",
        scene.total()
    );
    drop(refused);
}

fn exactly_once(scene: Scene, what: &str) {
    let out = scene.dir.join("received.jsonl");
    let _receive = scene.receive(&out);
    let _serve = scene.serve("serve.log");
    std::thread::sleep(Duration::from_millis(500));
    let _ship = scene.ship();
    let (seen, matched) = scene.wait_for_all(std::slice::from_ref(&out), Duration::from_secs(300));
    // A moment for any duplicate to show before counting.
    std::thread::sleep(Duration::from_secs(2));
    let (seen_after, _) = scene.received(std::slice::from_ref(&out));
    assert_eq!(scene.missing(&seen), 0, "{what}: lines lost of {}", scene.total());
    assert_eq!(scene.extra(&seen_after), 0, "{what}: lines delivered more than once");
    assert_eq!(matched, 1, "{what}: the corpus holds one parity positive");
    println!("{what}: {} events, each once, {matched} match", scene.total());
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

/// OTLP from end to end, through both faults.
#[test]
fn otlp_through_a_killed_serve_and_a_receiver_restart_loses_nothing() {
    let Some(scene) = Scene::new("otlp", Hop::Otlp) else { return };
    through_both_faults(scene, "OTLP between two Fluent Bits");
}

/// Vector at both ends, as docs/serve.md configures it, through both faults.
#[test]
fn vector_through_a_killed_serve_and_a_receiver_restart_loses_nothing() {
    let Some(scene) = Scene::with_vector("vector", Hop::Http) else { return };
    through_both_faults(scene, "Vector to Vector");
}

/// Vector's OTLP source and sink at both ends, as docs/serve.md configures them, through both
/// faults.
#[test]
fn vector_otlp_through_a_killed_serve_and_a_receiver_restart_loses_nothing() {
    let Some(scene) = Scene::with_vector("vector-otlp", Hop::Otlp) else { return };
    through_both_faults(scene, "OTLP through two Vectors");
}

/// Both faults: `serve` killed (SIGKILL, nothing finished) and, while it is away, the receiver
/// stopped; `serve` started again and answering 503 until the receiver is back. Nothing is
/// lost; what was sent twice is counted.
fn through_both_faults(scene: Scene, what: &str) {
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
    assert_eq!(scene.missing(&seen), 0, "{what}: lines lost (of {})", scene.total());
    assert_eq!(matched, 1, "{what}: the corpus holds one parity positive, annotated");
    let (refused, serve_log) = scene.refusals("serve-2.log");
    assert!(refused > 0, "{what}: the receiver's absence never showed:\n{serve_log}");
    println!(
        "{what}: serve killed after {killed_at} of {} events and restarted, the receiver stopped and restarted \
         meanwhile: all arrived ({delivered} deliveries, {} duplicates), {refused} batches answered 503 meanwhile",
        scene.total(),
        delivered - scene.total()
    );
}
