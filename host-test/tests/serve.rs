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
