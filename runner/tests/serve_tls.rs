//! `winrm-detect serve` across a network: TLS on the listener (with client certificates, and
//! the certificate read again on SIGHUP), TLS to the next hop (verified, with a client
//! certificate), what is refused (a client without a certificate, with one from another CA,
//! with an expired one; a next hop nobody vouches for), the warnings at start, and 500
//! connections that stop mid-handshake beside a shipper that is served. Certificates are made
//! here (rcgen); the real Fluent Bit over TLS is in `serve_real.rs`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use host_test::ScratchDir;
use host_test::certificates::{Authority, Pair};

const POSITIVE: &str = r#"{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WS01","Image":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","OriginalFileName":"PowerShell.EXE","CommandLine":"powershell.exe Invoke-Command -ComputerName FS02 -ScriptBlock { whoami }","User":"CORP\\alice","ParentImage":"C:\\Windows\\explorer.exe","ProcessId":"4242","UtcTime":"2026-03-02 10:15:30.123"}"#;

/// A `serve` process (stopped with SIGTERM when dropped), its stderr in a file.
struct Serve {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Serve {
    fn start(dir: &Path, name: &str, args: &[&str], stdout: Stdio) -> Serve {
        let port = host_test::free_loopback_port();
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_winrm-detect"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .stdout(stdout)
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .unwrap();
        let serve = Serve { child, port, log };
        let started = Instant::now();
        while !serve.log().contains("listening on") {
            assert!(started.elapsed() < Duration::from_secs(30), "serve did not start:\n{}", serve.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        serve
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        host_test::real_fluent_bit::terminate(self.child.id());
        let _ = self.child.wait();
    }
}

/// One runtime for every request of this file: a client's pooled connections live on the
/// runtime that made them, and die with it.
static RUNTIME: std::sync::LazyLock<tokio::runtime::Runtime> = std::sync::LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
});

/// A client with no settings of its own (reqwest needs a TLS provider installed first).
fn http_client() -> reqwest::Client {
    winrm_detect_runner::serve::tls::install_provider();
    reqwest::Client::new()
}

fn block_on<F: Future>(f: F) -> F::Output {
    winrm_detect_runner::serve::tls::install_provider();
    RUNTIME.block_on(f)
}

/// A client that trusts `ca` only and shows `identity` (certificate, key), if any.
fn client(ca: &Path, identity: Option<&Pair>) -> reqwest::Client {
    winrm_detect_runner::serve::tls::install_provider();
    let pem = std::fs::read(ca).unwrap();
    let mut builder = reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem).unwrap())
        .tls_info(true)
        .timeout(Duration::from_secs(10));
    if let Some(pair) = identity {
        let mut pem = std::fs::read(&pair.key).unwrap();
        pem.extend(std::fs::read(&pair.cert).unwrap());
        builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

/// POSTs one event; the status, or the error's text when there is no answer.
fn post(client: &reqwest::Client, url: &str) -> Result<u16, String> {
    block_on(async {
        let response = client.post(url).body(POSITIVE).send().await.map_err(|e| format!("{e:?}"))?;
        Ok(response.status().as_u16())
    })
}

/// The certificate the server showed this client, in DER.
fn served_certificate(client: &reqwest::Client, url: &str) -> Vec<u8> {
    block_on(async {
        let response = client.get(format!("{url}health")).send().await.unwrap();
        let info = response.extensions().get::<reqwest::tls::TlsInfo>().expect("TLS info");
        info.peer_certificate().expect("a certificate").to_vec()
    })
}

fn metric(serve: &Serve, client: &reqwest::Client, name: &str) -> u64 {
    let page =
        block_on(async { client.get(format!("{}metrics", serve.url())).send().await.unwrap().text().await.unwrap() });
    page.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name}"))
        .parse()
        .unwrap()
}

/// Mutual TLS on the listener: the shipper with a certificate from the CA is served; without
/// one, with one from another CA, with an expired one, or trusting another CA, the handshake
/// fails, and the next shipper is served as before.
#[test]
fn only_shippers_with_a_certificate_from_the_ca_are_served() {
    let dir = ScratchDir::new("serve-tls-mutual");
    let ca = Authority::new(&dir, "ours");
    let other = Authority::new(&dir, "other");
    let server = ca.sign("server", &["localhost", "127.0.0.1"], false);
    let shipper = ca.sign("shipper", &["shipper"], false);
    let stranger = other.sign("stranger", &["stranger"], false);
    let expired = ca.sign("expired", &["expired"], true);
    let (cert, key, client_ca) =
        (server.cert.to_str().unwrap(), server.key.to_str().unwrap(), ca.pem.to_str().unwrap());
    let serve = Serve::start(
        &dir,
        "serve",
        &["--tls-cert", cert, "--tls-key", key, "--tls-client-ca", client_ca],
        Stdio::null(),
    );
    assert!(serve.log().contains(&format!("listening on https://127.0.0.1:{}", serve.port)), "{}", serve.log());
    let good = client(&ca.pem, Some(&shipper));
    assert_eq!(post(&good, &serve.url()), Ok(200));
    let refused = [
        ("no client certificate", client(&ca.pem, None)),
        ("a certificate from another CA", client(&ca.pem, Some(&stranger))),
        ("an expired certificate", client(&ca.pem, Some(&expired))),
        ("a client that trusts another CA", client(&other.pem, Some(&shipper))),
    ];
    for (what, client) in &refused {
        let outcome = post(client, &serve.url());
        assert!(outcome.is_err(), "{what}: {outcome:?}");
        assert_eq!(post(&good, &serve.url()), Ok(200), "after {what}");
    }
    // Plain HTTP to the TLS port gets no answer, and takes nothing from the others.
    let plain = block_on(http_client().post(format!("http://127.0.0.1:{}/", serve.port)).body(POSITIVE).send());
    assert!(plain.is_err() || plain.is_ok_and(|r| !r.status().is_success()));
    assert_eq!(post(&good, &serve.url()), Ok(200));
    let failures = metric(&serve, &good, "winrm_detect_tls_handshake_failures_total");
    assert!(failures >= refused.len() as u64, "{failures} handshake failures counted");
}

/// A certificate renewed on disk is served after SIGHUP, without a restart; a reload that
/// cannot read the files keeps the certificate in use and says so.
#[test]
fn sighup_reads_the_certificate_again() {
    let dir = ScratchDir::new("serve-tls-reload");
    let ca = Authority::new(&dir, "ours");
    let first_pair = ca.sign("server", &["127.0.0.1"], false);
    let live = (dir.join("live.pem"), dir.join("live.key"));
    std::fs::copy(&first_pair.cert, &live.0).unwrap();
    std::fs::copy(&first_pair.key, &live.1).unwrap();
    let serve = Serve::start(
        &dir,
        "serve",
        &["--tls-cert", live.0.to_str().unwrap(), "--tls-key", live.1.to_str().unwrap()],
        Stdio::null(),
    );
    let client = client(&ca.pem, None);
    let first = served_certificate(&client, &serve.url());
    let hangup = |serve: &Serve| {
        // SAFETY: kill(2) with a child's pid and a signal number.
        unsafe { libc::kill(serve.child.id() as i32, libc::SIGHUP) };
    };
    // A broken key: the reload fails, the old certificate is still served.
    std::fs::write(&live.1, "not a key").unwrap();
    hangup(&serve);
    let started = Instant::now();
    while !serve.log().contains("the certificate in use stays") {
        assert!(started.elapsed() < Duration::from_secs(10), "{}", serve.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(served_certificate(&client, &serve.url()), first);
    assert_eq!(metric(&serve, &client, "winrm_detect_tls_reload_failures_total"), 1);
    // The renewed pair: served from the next connection on.
    let renewed_pair = ca.sign("renewed", &["127.0.0.1"], false);
    std::fs::copy(&renewed_pair.cert, &live.0).unwrap();
    std::fs::copy(&renewed_pair.key, &live.1).unwrap();
    hangup(&serve);
    let started = Instant::now();
    while !serve.log().contains("certificate and key read again") {
        assert!(started.elapsed() < Duration::from_secs(10), "{}", serve.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let fresh = reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&std::fs::read(&ca.pem).unwrap()).unwrap())
        .tls_info(true)
        .build()
        .unwrap();
    let renewed = served_certificate(&fresh, &serve.url());
    assert_ne!(renewed, first, "the renewed certificate is served");
    assert_eq!(post(&fresh, &serve.url()), Ok(200));
}

/// TLS to the next hop (here a second `serve` asking for client certificates): verified
/// against `--forward-ca`, with `--forward-client-cert`. A next hop the forwarder cannot verify
/// (no CA given: the system's roots do not know ours; another CA) or one that refuses the
/// forwarder (no client certificate) takes nothing, and the shipper is answered 503.
#[test]
fn the_next_hop_is_verified_and_shown_a_certificate() {
    let dir = ScratchDir::new("serve-tls-forward");
    let ca = Authority::new(&dir, "ours");
    let other = Authority::new(&dir, "other");
    let hop = ca.sign("hop", &["127.0.0.1"], false);
    let forwarder = ca.sign("forwarder", &["forwarder"], false);
    let mut next = Serve::start(
        &dir,
        "next-hop",
        &[
            "--tls-cert",
            hop.cert.to_str().unwrap(),
            "--tls-key",
            hop.key.to_str().unwrap(),
            "--tls-client-ca",
            ca.pem.to_str().unwrap(),
        ],
        Stdio::piped(),
    );
    let received = std::io::BufReader::new(next.child.stdout.take().unwrap());
    let (lines, from) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(received) {
            let _ = lines.send(line.unwrap());
        }
    });
    let forward = format!("https://127.0.0.1:{}/", next.port);
    let (cert, key) = (forwarder.cert.to_str().unwrap(), forwarder.key.to_str().unwrap());
    let cases: [(&str, Vec<&str>, u16); 4] = [
        (
            "verified, with a client certificate",
            vec!["--forward-ca", ca.pem.to_str().unwrap(), "--forward-client-cert", cert, "--forward-client-key", key],
            200,
        ),
        ("the system's roots", vec!["--forward-client-cert", cert, "--forward-client-key", key], 503),
        (
            "another CA",
            vec![
                "--forward-ca",
                other.pem.to_str().unwrap(),
                "--forward-client-cert",
                cert,
                "--forward-client-key",
                key,
            ],
            503,
        ),
        ("no client certificate", vec!["--forward-ca", ca.pem.to_str().unwrap()], 503),
    ];
    for (what, args, want) in cases {
        let mut all = vec!["--forward", forward.as_str(), "--forward-timeout", "5"];
        all.extend(args);
        let serve = Serve::start(&dir, "forwarder", &all, Stdio::null());
        let status = block_on(async {
            let response =
                http_client().post(format!("http://127.0.0.1:{}/", serve.port)).body(POSITIVE).send().await.unwrap();
            response.status().as_u16()
        });
        assert_eq!(status, want, "{what}:\n{}", serve.log());
        if want == 200 {
            let line = from.recv_timeout(Duration::from_secs(10)).expect("the next hop's record");
            assert!(line.contains("\"winrm_detect\""), "{line}");
        } else {
            assert!(serve.log().contains("answered 503"), "{what}:\n{}", serve.log());
        }
    }
    // A forward over plain HTTP given TLS settings is refused at start, not ignored.
    let out = Command::new(env!("CARGO_BIN_EXE_winrm-detect"))
        .args(["serve", "--forward", "http://127.0.0.1:1/", "--forward-ca", ca.pem.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("apply to an https:// URL"));
}

/// Listening beyond loopback without TLS or without a token says so at start, in words a
/// person acts on; on loopback, or with TLS and client certificates, it does not.
#[test]
fn exposure_is_warned_about_at_start() {
    use winrm_detect_runner::serve::exposure_warnings;
    let anywhere: std::net::SocketAddr = "0.0.0.0:8089".parse().unwrap();
    let loopback: std::net::SocketAddr = "127.0.0.1:8089".parse().unwrap();
    assert!(exposure_warnings(loopback, false, false).is_empty());
    assert!(exposure_warnings(anywhere, true, true).is_empty());
    let plain = exposure_warnings(anywhere, false, true);
    assert_eq!(plain.len(), 1);
    assert!(plain[0].contains("without TLS") && plain[0].contains("--tls-cert"), "{plain:?}");
    let open = exposure_warnings(anywhere, true, false);
    assert_eq!(open.len(), 1);
    assert!(open[0].contains("without a token") && open[0].contains("--token-file"), "{open:?}");
}

/// 500 connections that send the first bytes of a ClientHello and stop hold nothing past
/// the head timeout, and a shipper beside them is served throughout (at a bound of 100
/// connections, the stalled ones give their places first).
#[test]
fn stalled_handshakes_do_not_stop_a_shipper() {
    let dir = ScratchDir::new("serve-tls-stalled");
    let ca = Authority::new(&dir, "ours");
    let server = ca.sign("server", &["127.0.0.1"], false);
    let serve = Serve::start(
        &dir,
        "serve",
        &[
            "--tls-cert",
            server.cert.to_str().unwrap(),
            "--tls-key",
            server.key.to_str().unwrap(),
            "--max-connections",
            "100",
            "--header-timeout",
            "2",
        ],
        Stdio::null(),
    );
    let good = client(&ca.pem, None);
    let mut stalled = Vec::new();
    let mut slowest = Duration::ZERO;
    for i in 0..500 {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", serve.port)) {
            // A TLS record header announcing a ClientHello of 512 bytes, then nothing.
            let _ = stream.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
            stalled.push(stream);
        }
        if i % 50 == 49 {
            let started = Instant::now();
            assert_eq!(post(&good, &serve.url()), Ok(200), "after {} stalled handshakes", i + 1);
            slowest = slowest.max(started.elapsed());
        }
    }
    // Past the head timeout, every stalled connection has been closed.
    std::thread::sleep(Duration::from_secs(4));
    let open = metric(&serve, &good, "winrm_detect_connections_open");
    assert!(open <= 2, "{open} connections still open");
    println!(
        "500 stalled TLS handshakes at a bound of 100: the shipper served each time, slowest answer {} ms",
        slowest.as_millis()
    );
    drop(stalled);
}
