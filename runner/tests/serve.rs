//! `winrm-detect serve` as shippers see it, on loopback: what a batch earns (200, 401, 413,
//! 415, 503), gzip, every framing, the metrics, and a bounded load test that prints events per
//! second, p99 latency and peak memory (figures, not targets).

use std::io::{BufRead, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn corpus_lines(n: usize) -> Vec<String> {
    let text = flate2::read::GzDecoder::new(std::fs::File::open(host_test::corpus_bulk("xml.gz")).unwrap());
    std::io::BufReader::new(text).lines().take(n).map(Result::unwrap).collect()
}

/// A `serve` process, stopped with SIGTERM when dropped.
pub struct Serve {
    pub child: Child,
    pub url: String,
}

impl Serve {
    pub fn start(args: &[&str]) -> Serve {
        let port = host_test::free_loopback_port();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_winrm-detect"))
            .args(["serve", "--listen", &listen])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let serve = Serve { child, url: format!("http://{listen}") };
        let started = Instant::now();
        while block_on(reqwest::get(format!("{}/health", serve.url))).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "serve did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        serve
    }

    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status.lines().find_map(|l| l.strip_prefix("VmHWM:")).unwrap().trim().trim_end_matches(" kB").parse().unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        host_test::real_fluent_bit::terminate(self.child.id());
        let _ = self.child.wait();
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = client.post(url).body(body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

const POSITIVE: &str = r#"{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WS01","Image":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","OriginalFileName":"PowerShell.EXE","CommandLine":"powershell.exe Invoke-Command -ComputerName FS02 -ScriptBlock { whoami }","User":"CORP\\alice","ParentImage":"C:\\Windows\\explorer.exe","ProcessId":"4242","UtcTime":"2026-03-02 10:15:30.123"}"#;

#[test]
fn what_each_request_earns() {
    let dir = std::env::temp_dir().join(format!("winrm-detect-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, "s3cret\n").unwrap();
    let serve = Serve::start(&["--token-file", token_file.to_str().unwrap(), "--max-body-bytes", "100000"]);
    let client = reqwest::Client::new();
    let url = format!("{}/", serve.url);
    let auth = ("authorization", "Bearer s3cret");
    block_on(async {
        let (status, _) = post(&client, &url, POSITIVE.into(), &[]).await;
        assert_eq!(status, 401);
        let (status, _) = post(&client, &url, POSITIVE.into(), &[("authorization", "Bearer s3cre7")]).await;
        assert_eq!(status, 401);

        // NDJSON, an array and one event; a broken line is an error of its own.
        let ndjson = format!("{POSITIVE}\n{{\"a\":1}}\n{{\"broken\":\n");
        let (status, text) = post(&client, &url, ndjson.into(), &[auth]).await;
        assert_eq!(status, 200, "{text}");
        let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (answer["events"].as_u64(), answer["matched"].as_u64(), answer["errors"].as_u64()),
            (Some(3), Some(1), Some(1))
        );
        let array = format!("[{POSITIVE}, {{\"a\":1}}]");
        let (status, text) = post(&client, &url, array.into(), &[auth]).await;
        assert_eq!(
            (status, serde_json::from_str::<serde_json::Value>(&text).unwrap()["events"].as_u64()),
            (200, Some(2))
        );

        // gzip, and a body over the limit before and after decompression.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(POSITIVE.as_bytes()).unwrap();
        let (status, text) = post(&client, &url, gz.finish().unwrap(), &[auth, ("content-encoding", "gzip")]).await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains("\"matched\":1"), "{text}");
        // Refused before it is read, and still answered: the client is writing megabytes when
        // the answer is ready, which without a lingering read fails the client's write instead.
        for size in [100_001, 8 << 20] {
            let (status, _) = post(&client, &url, vec![b' '; size], &[auth]).await;
            assert_eq!(status, 413);
        }
        let (status, _) = post(&client, &url, vec![b' '; 8 << 20], &[]).await;
        assert_eq!(status, 401);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b' '; 1_000_000]).unwrap();
        let (status, _) = post(&client, &url, gz.finish().unwrap(), &[auth, ("content-encoding", "gzip")]).await;
        assert_eq!(status, 413);
        let (status, _) = post(&client, &url, b"x".to_vec(), &[auth, ("content-encoding", "br")]).await;
        assert_eq!(status, 415);

        let metrics = client.get(format!("{}/metrics", serve.url)).header(auth.0, auth.1).send().await.unwrap();
        let metrics = metrics.text().await.unwrap();
        for line in [
            "winrm_detect_events_total 6",
            "winrm_detect_matches_total 3",
            "winrm_detect_errors_total{kind=\"broken-json\"} 1",
            "winrm_detect_requests_total{status=\"401\"} 3",
            "winrm_detect_requests_total{status=\"413\"} 3",
        ] {
            assert!(metrics.lines().any(|l| l == line), "no `{line}` in\n{metrics}");
        }
        assert_eq!(client.get(format!("{}/metrics", serve.url)).send().await.unwrap().status().as_u16(), 401);
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The next hop refusing or absent: 503, so that the shipper retries; nothing acknowledged.
#[test]
fn a_failed_forward_is_not_acknowledged() {
    let dead = host_test::free_loopback_port();
    let serve = Serve::start(&["--forward", &format!("http://127.0.0.1:{dead}/"), "--forward-timeout", "2"]);
    let client = reqwest::Client::new();
    block_on(async {
        let started = Instant::now();
        let response = client.post(format!("{}/", serve.url)).body(POSITIVE).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
        assert!(started.elapsed() < Duration::from_secs(10));
        let metrics = client.get(format!("{}/metrics", serve.url)).send().await.unwrap().text().await.unwrap();
        assert!(metrics.lines().any(|l| l == "winrm_detect_forward_failures_total 1"), "{metrics}");
    });
}

/// N posters at once on loopback, bounded in count: every request answered 200, every event
/// counted; prints the figures.
#[test]
fn load_on_loopback() {
    const POSTERS: usize = 8;
    const BATCHES: usize = 10;
    const PER_BATCH: usize = 1_000;
    let lines = corpus_lines(PER_BATCH * 4);
    let serve = Serve::start(&["--workers", "2"]);
    let client = reqwest::Client::new();
    let url = format!("{}/", serve.url);
    let started = Instant::now();
    let latencies =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap().block_on(async {
            let mut tasks = Vec::new();
            for poster in 0..POSTERS {
                let (client, url) = (client.clone(), url.clone());
                let body: Vec<u8> = lines[(poster % 4) * PER_BATCH..][..PER_BATCH].join("\n").into_bytes();
                tasks.push(tokio::spawn(async move {
                    let mut took = Vec::new();
                    for _ in 0..BATCHES {
                        let t = Instant::now();
                        let (status, text) = post(&client, &url, body.clone(), &[]).await;
                        assert_eq!(status, 200, "{text}");
                        assert!(text.contains(&format!("\"events\":{PER_BATCH}")), "{text}");
                        took.push(t.elapsed());
                    }
                    took
                }));
            }
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.unwrap());
            }
            all
        });
    let elapsed = started.elapsed();
    let mut latencies = latencies;
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100 - 1];
    let events = POSTERS * BATCHES * PER_BATCH;
    println!(
        "serve load: {POSTERS} posters × {BATCHES} batches × {PER_BATCH} events (Sysmon XML, {:.1} MB): {:.0} events/s, \
         p50 {:?}, p99 {:?}, peak RSS {} MiB",
        (lines.iter().map(String::len).sum::<usize>() * POSTERS * BATCHES / 4) as f64 / 1e6,
        events as f64 / elapsed.as_secs_f64(),
        latencies[latencies.len() / 2],
        p99,
        serve.peak_rss_kib() / 1024
    );
    let metrics =
        block_on(async { reqwest::get(format!("{}/metrics", serve.url)).await.unwrap().text().await.unwrap() });
    assert!(metrics.lines().any(|l| l == format!("winrm_detect_events_total {events}")), "{metrics}");
}

/// Descriptors the process holds now.
fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// A raw connection that sends `bytes` and then holds still.
fn raw(url: &str, bytes: &[u8]) -> Option<std::net::TcpStream> {
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.write_all(bytes).ok()?;
    Some(stream)
}

/// What the server sends on `stream` until it closes the connection (or `limit` passes: then
/// `None`), and how long that took.
fn read_until_closed(stream: &mut std::net::TcpStream, limit: Duration) -> Option<(String, Duration)> {
    use std::io::Read;
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some((String::from_utf8_lossy(&got).into_owned(), started.elapsed())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some((String::from_utf8_lossy(&got).into_owned(), started.elapsed()));
            }
            Err(_) => return None,
        }
    }
}

/// A well-behaved shipper posting three events every `every` for `during`: the slowest answer.
async fn slowest_answer(url: &str, during: Duration, every: Duration) -> Duration {
    let client = reqwest::Client::new();
    let body = format!("{POSITIVE}\n{{\"a\":1}}\n{POSITIVE}\n");
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    while started.elapsed() < during {
        let t = Instant::now();
        let answered =
            tokio::time::timeout(Duration::from_secs(30), post(&client, url, body.clone().into(), &[])).await;
        let (status, text) = answered.expect("a well-behaved request was not answered within 30 s");
        assert_eq!(status, 200, "{text}");
        slowest = slowest.max(t.elapsed());
        tokio::time::sleep(every).await;
    }
    slowest
}

fn metric(serve: &Serve, name: &str) -> u64 {
    let text = block_on(async { reqwest::get(format!("{}/metrics", serve.url)).await.unwrap().text().await.unwrap() });
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok()).unwrap_or(0)
}

/// Eight clients that announce a 1 MB body and send a byte a second (a shipper with the token
/// on a bad link, or an attacker), with serve's defaults: they hold no body slot, and a
/// well-behaved request is answered at once all along.
#[test]
fn dribbling_senders_hold_no_slot() {
    let serve = Serve::start(&[]);
    let head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: 1000000\r\n\r\n";
    let dribblers: Vec<_> = (0..8).map(|_| raw(&serve.url, head.as_bytes()).expect("connect")).collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let feeder = {
        let stop = stop.clone();
        let mut streams: Vec<_> = dribblers.iter().map(|s| s.try_clone().unwrap()).collect();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for s in &mut streams {
                    let _ = s.write_all(b" ");
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    let slowest =
        block_on(slowest_answer(&format!("{}/", serve.url), Duration::from_secs(6), Duration::from_millis(250)));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    feeder.join().unwrap();
    println!(
        "serve, 8 dribbling senders (1 byte/s, 1 MB announced), defaults: slowest well-behaved answer {slowest:?}"
    );
    assert!(slowest < Duration::from_secs(1), "a well-behaved request waited {slowest:?}");
    drop(dribblers);
}

/// 3,000 connections that send half a request head or nothing at all, with serve's
/// defaults: serve holds no more than its connection bound (512), turns the flood over, and a
/// well-behaved request is answered at once all along.
#[test]
fn half_open_and_silent_connections_are_turned_over() {
    let serve = Serve::start(&[]);
    let pid = serve.child.id();
    let before = open_descriptors(pid);
    let half_head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le";
    let url = serve.url.clone();
    let flood = std::thread::spawn(move || {
        let mut held = Vec::new();
        for i in 0..3_000 {
            if let Some(s) = raw(&url, if i % 2 == 0 { &half_head[..] } else { b"" }) {
                held.push(s);
            }
        }
        held
    });
    let slowest =
        block_on(slowest_answer(&format!("{}/", serve.url), Duration::from_secs(5), Duration::from_millis(100)));
    let held = flood.join().unwrap();
    let after_flood =
        block_on(slowest_answer(&format!("{}/", serve.url), Duration::from_secs(1), Duration::from_millis(100)));
    let descriptors = open_descriptors(pid);
    let shed = metric(&serve, "winrm_detect_connections_shed_total");
    let open = metric(&serve, "winrm_detect_connections_open");
    println!(
        "serve, 3,000 half-open and silent connections ({} connected), defaults: slowest well-behaved answer \
         {:?}; serve holds {descriptors} descriptors ({before} before), {open} connections open, {shed} shed",
        held.len(),
        slowest.max(after_flood),
    );
    assert!(held.len() >= 2_900, "only {} connections got through", held.len());
    assert!(slowest.max(after_flood) < Duration::from_secs(1), "a well-behaved request waited {slowest:?}");
    assert!(open <= 512, "{open} connections open");
    assert!(descriptors <= before + 512, "{descriptors} descriptors, {before} before the flood");
    assert!(shed >= 2_400, "only {shed} shed");
}

/// Each time limit, with short values: a half-sent head and an idle keep-alive connection are
/// closed, a dribbled body is answered 408; a connection serving a request is never cut; and
/// when every connection is inside a request a new one waits in the backlog, not refused.
#[test]
fn time_limits_and_the_connection_bound() {
    let serve = Serve::start(&[
        "--header-timeout",
        "0.5",
        "--idle-timeout",
        "1.5",
        "--body-timeout",
        "1",
        "--max-connections",
        "3",
    ]);
    // A head that never ends: closed, with no answer, after the header timeout.
    let mut half = raw(&serve.url, b"POST / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let (said, took) = read_until_closed(&mut half, Duration::from_secs(5)).expect("the half-sent head was not closed");
    assert!(
        said.is_empty() && took >= Duration::from_millis(400) && took < Duration::from_secs(2),
        "{said:?} {took:?}"
    );

    // A keep-alive connection: answered, kept for the idle timeout, then closed.
    let request = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{POSITIVE}", POSITIVE.len());
    let mut kept = raw(&serve.url, request.as_bytes()).unwrap();
    let (said, took) =
        read_until_closed(&mut kept, Duration::from_secs(5)).expect("the idle connection was not closed");
    assert!(said.starts_with("HTTP/1.1 200"), "{said}");
    assert!(took >= Duration::from_millis(1_300) && took < Duration::from_secs(3), "closed after {took:?}");

    // A body that does not arrive in time: 408, and the connection closed.
    let mut slow = raw(&serve.url, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\"").unwrap();
    let (said, took) = read_until_closed(&mut slow, Duration::from_secs(5)).expect("the slow body was not answered");
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(3), "{took:?}");

    // Three connections inside requests (bodies on their way) fill the bound: a fourth waits
    // in the backlog until the first of them times out, then is answered.
    let body_head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{";
    let busy: Vec<_> = (0..3).map(|_| raw(&serve.url, body_head).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let (status, _) = block_on(post(&reqwest::Client::new(), &format!("{}/", serve.url), POSITIVE.into(), &[]));
    let waited = started.elapsed();
    assert_eq!(status, 200);
    assert!(waited >= Duration::from_millis(500) && waited < Duration::from_secs(4), "waited {waited:?}");
    drop(busy);

    for (name, at_least) in [
        ("winrm_detect_timeouts_total{phase=\"head\"}", 1),
        ("winrm_detect_timeouts_total{phase=\"idle\"}", 1),
        ("winrm_detect_timeouts_total{phase=\"body\"}", 4),
        ("winrm_detect_requests_total{status=\"408\"}", 4),
    ] {
        assert!(metric(&serve, name) >= at_least, "{name} below {at_least}");
    }
}

/// Every fixture (every event shape we read) through `serve`, one request per file: each
/// record handed on is the one the library writes for that event, annotations and errors
/// alike. `serve` is a host like the others, and reads what they read.
#[test]
fn every_fixture_shape_through_serve_as_the_library_reads_it() {
    let port = host_test::free_loopback_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_winrm-detect"))
        .args(["serve", "--listen", &listen, "--workers", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut handed_on = std::io::BufReader::new(child.stdout.take().unwrap());
    let serve = Serve { child, url: format!("http://{listen}") };
    let started = Instant::now();
    while block_on(reqwest::get(format!("{}/health", serve.url))).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "serve did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let detector = winrm_detect::Detector::from_json("{}").unwrap();
    let dir = host_test::workspace_root().join("fixtures/events");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let client = reqwest::Client::new();
    let mut records = 0;
    for path in files {
        let body = std::fs::read(&path).unwrap();
        let events: Vec<Vec<u8>> =
            winrm_detect_runner::serve::body::events(&body).into_iter().map(<[u8]>::to_vec).collect();
        let (status, text) = block_on(post(&client, &format!("{}/", serve.url), body, &[]));
        assert_eq!(status, 200, "{}: {text}", path.display());
        for (i, event) in events.iter().enumerate() {
            let mut want = Vec::new();
            winrm_detect::record::write(&mut want, event, &detector.scan(event), winrm_detect::Output::Native);
            let mut got = String::new();
            handed_on.read_line(&mut got).unwrap();
            assert_eq!(got.trim_end(), String::from_utf8_lossy(&want), "{} event {}", path.display(), i + 1);
            records += 1;
        }
    }
    assert!(records >= 80, "only {records} fixture events");
}
