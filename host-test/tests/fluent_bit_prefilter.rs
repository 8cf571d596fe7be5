//! The prefilter (`winrm-detect fluent-bit-config`: the module's needles in a `rewrite_tag`
//! filter, or a `grep` filter in filter mode) in the real Fluent Bit 5.1.1, both builds: for each input the README
//! configures a prefilter for (`tail`/`tcp` lines and `winevtlog`), both modes, annotate and filter, the records out with the prefilter are the
//! records out without it (the same verdicts, errors and records; only their order differs),
//! over our fixtures, the worst cases, every spelling real writers produce and the corpus; a
//! needle in a forged spelling is what it gives up, shown in a test of its own. And under a slow
//! output, the emitter as configured loses nothing, where a memory limit on it would let
//! records past the module.
//!
//! Without a Fluent Bit these tests say what is missing and pass; under `CI=true` they fail.

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use host_test::real_fluent_bit::{FAST_SERVICE, FluentBit, JSON_PARSER, Pipeline, set_value, tail_input};
use serde_json::Value;
use winrm_detect::{Config, Mode};
use winrm_detect_runner::fluent_bit::pipeline::{self, Behaviour, Input};

/// Every run here takes seconds; one that waits this long is missing records.
const TIMEOUT: Duration = Duration::from_secs(90);

fn root() -> PathBuf {
    host_test::workspace_root()
}

/// The configuration `fluent-bit-config` prints, reading `file` with `tail` from its start
/// (a `winevtlog` record as its JSON, parsed), flushing often, printing records only.
fn configuration(
    input: Input,
    behaviour: Behaviour,
    mode: Mode,
    module: &Path,
    file: &Path,
    prefilter: bool,
) -> String {
    let config = Config::default();
    let wasm_path = module.display().to_string();
    let options = pipeline::Options {
        input,
        behaviour,
        config: &config,
        fixed_mode: Some(mode),
        wasm_path: &wasm_path,
        path: None,
        port: 5170,
        prefilter,
    };
    let mut p = Pipeline::parse(&pipeline::yaml(&options)).unwrap();
    let parser = matches!(input, Input::Winevtlog | Input::TailJson).then_some("json");
    p.inputs = tail_input(file, parser, "winevt", false);
    if input == Input::Winevtlog {
        p.preamble.push_str(JSON_PARSER);
    }
    p.preamble = format!("{FAST_SERVICE}{}", p.preamble);
    p.outputs =
        p.outputs.replace("      format: json_lines\n", "      format: json_lines\n      json_date_key: false\n");
    p.to_yaml()
}

/// A record as compared: Fluent Bit's JSON round trip through any wasm filter rewrites
/// invalid UTF-8, which a record kept away from the module keeps; so each non-ASCII
/// character is one `?`.
fn normalised(record: &serde_json::Map<String, Value>) -> String {
    Value::Object(record.clone()).to_string().chars().map(|c| if c.is_ascii() { c } else { '?' }).collect()
}

fn run(fluent_bit: &FluentBit, dir: &Path, yaml: &str, want: usize) -> Vec<String> {
    let config = dir.join("fluent-bit.yaml");
    fs::write(&config, yaml).unwrap();
    let (records, stderr) = fluent_bit.checked_run(&config, want, TIMEOUT, false, || Ok(()));
    assert!(!stderr.contains("[error]"), "{yaml}\n{stderr}");
    let mut out: Vec<String> = records.iter().map(normalised).collect();
    out.sort();
    out
}

/// How many records a function forwards of `lines`: the native verdicts on each record as
/// Fluent Bit hands it to the module (a line `tail` could not parse is `{"log": line}`).
fn forwarded(lines: &[Vec<u8>], input: Input, behaviour: Behaviour, mode: Mode) -> usize {
    let detector = winrm_detect::Detector::new(Config { mode, ..Config::default() });
    let as_record = |line: &Vec<u8>| match serde_json::from_slice::<Value>(line) {
        Ok(Value::Object(_)) if input != Input::TailXml => line.clone(),
        _ => serde_json::json!({"log": String::from_utf8_lossy(line)}).to_string().into_bytes(),
    };
    let fires = |line: &Vec<u8>| match detector.scan(&as_record(line)) {
        Ok(a) => !a.is_empty(),
        Err(e) => e.kind != winrm_detect::ErrorKind::UnknownShape,
    };
    match behaviour {
        Behaviour::Annotate => lines.len(),
        Behaviour::Filter => lines.iter().filter(|l| fires(l)).count(),
    }
}

fn fixture_lines(suffixes: &[&str]) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = fs::read_dir(root().join("fixtures/events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| suffixes.iter().any(|s| p.to_string_lossy().ends_with(s)))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| fs::read(f).unwrap().split(|&b| b == b'\n').map(<[u8]>::to_vec).collect::<Vec<_>>())
        .filter(|l| !l.trim_ascii().is_empty())
        .collect()
}

/// What real writers make of an event's text (issue 45): Windows' rendering of a command line,
/// the five entities and the control characters included; stray bytes that are not UTF-8 and
/// control characters as they come (Fluent Bit writes those as `\u00XX`); a record over the
/// module's size limit; broken events that still hold their needles. Each spelling is given a
/// matching event and one that matches nothing.
fn writer_spellings_xml(positive: &str, negative: &str) -> Vec<Vec<u8>> {
    let rendered = "&amp; &lt;x&gt; &quot;a&quot; &apos;b&apos;&#10;&#13;&#9;\u{1}\u{7f}\u{1f}é";
    let mut lines = Vec::new();
    for event in [positive, negative] {
        lines.push(event.replacen("</Data>", &format!("{rendered}</Data>"), 1).into_bytes());
        lines.push(event.replacen("</Data>", "&#10;&#xA;&#13;&#9;</Data>", 1).into_bytes());
        lines.push(event.replacen("</Event>", "", 1).into_bytes());
        lines.push(event.as_bytes()[..event.len() / 2].to_vec());
    }
    lines.extend([
        positive.replacen("Invoke-Command", &format!("{rendered}Invoke-Command"), 1).into_bytes(),
        positive.replacen("Invoke-Command", "\u{7f}\u{1f}", 1).into_bytes(),
        format!("<Event>{}</Event>", "a".repeat(1 << 20)).into_bytes(),
        format!("<Event>{}</Event>", "é".repeat(200_000)).into_bytes(),
    ]);
    for stray in [b"\xc3".as_slice(), b"\xe2", b"\xf0"] {
        for needle in ["Invoke-Command", "-ComputerName"] {
            let mut line = positive.replacen(needle, &format!("\u{0}{needle}"), 1).into_bytes();
            let at = line.iter().position(|&b| b == 0).unwrap();
            line.splice(at..=at, stray.iter().copied());
            lines.push(line);
        }
    }
    lines
}

/// The JSON writers' escapes, in a string of each event: Fluent Bit's and Python's (control
/// characters, non-ASCII as `\uXXXX`, quotes and backslashes), Go's (Winlogbeat and Elastic
/// Agent: `<`, `>`, `&`, U+2028 as `\u003c`...), NXLog's (`\t`, `\r`, `\n`); and the broken
/// and oversized records real pipelines write.
fn writer_spellings_json(positive: &str, negative: &str) -> Vec<Vec<u8>> {
    let escaped = r#"\u003cx\u003e \u0026 \u2028 \u00e9\ud83d\ude00 \"q\" C:\\Windows \t\r\n\u0001\u001f"#;
    let mut lines = Vec::new();
    for event in [positive, negative] {
        lines.push(event.replacen("\":\"", &format!("\":\"{escaped}"), 1).into_bytes());
        lines.push(event.as_bytes()[..event.len() - 2].to_vec());
    }
    lines.extend([
        format!("{{\"a\":\"{}\"}}", "\\u0001".repeat(200_000)).into_bytes(),
        format!("{}{}", "[".repeat(100), "]".repeat(100)).into_bytes(),
    ]);
    lines
}

/// Forged spellings (issue 45): every occurrence of `needle` written so that no real writer
/// would, by a character reference, a comment or CDATA splitting it, or a JSON `\u` escape
/// of one of its letters. The module reads each back as the needle; the prefilter, which looks
/// for needles as written, passes them over.
fn forged(line: &str, needle: &str) -> Vec<String> {
    let spell = |spelling: &dyn Fn(&str) -> String| {
        let (lower, mut out, mut rest) = (line.to_ascii_lowercase(), String::new(), 0);
        for (at, _) in lower.match_indices(needle) {
            out.push_str(&line[rest..at]);
            out.push_str(&spelling(&line[at..at + needle.len()]));
            rest = at + needle.len();
        }
        out + &line[rest..]
    };
    let split = |s: &str, with: &str| format!("{}{with}{}", &s[..2], &s[2..]);
    if line.starts_with('{') {
        return vec![spell(&|s| format!("{}\\u{:04x}{}", &s[..1], s.as_bytes()[1], &s[2..]))];
    }
    vec![
        spell(&|s| format!("{}&#{};{}", &s[..1], s.as_bytes()[1], &s[2..])),
        spell(&|s| format!("{}&#x{:X};{}", &s[..1], s.as_bytes()[1], &s[2..])),
        spell(&|s| split(s, "<!-- -->")),
        spell(&|s| format!("{}<![CDATA[{}]]>{}", &s[..2], &s[2..4], &s[4..])),
    ]
}

fn first_with(lines: &[Vec<u8>], needle: &str) -> String {
    let line = lines.iter().find(|l| l.windows(needle.len()).any(|w| w == needle.as_bytes())).expect(needle);
    String::from_utf8(line.clone()).unwrap()
}

/// `positive` with every needle of every rule, in any case, named otherwise: an event of the
/// same shape that no rule reads, and that the prefilter passes over.
fn negative_of(positive: &str) -> String {
    let renames = [
        ("powershell", "notepad"),
        ("pwsh", "note"),
        ("-computername", "-Path"),
        ("invoke-command", "Get-Item"),
        ("enter-pssession", "Get-Item"),
        ("winrs", "wordpad"),
        ("wsmprovhost", "svchost"),
    ];
    let mut line = positive.to_string();
    for (name, other) in renames {
        while let Some(at) = line.to_ascii_lowercase().find(name) {
            line.replace_range(at..at + name.len(), other);
        }
    }
    line
}

fn first_positive(lines: &[Vec<u8>]) -> String {
    first_with(lines, "Invoke-Command")
}

/// The lines each input is given: what `tail` reads as text, JSON lines, and `winevtlog`
/// records rendered as XML.
fn lines_for(input: Input) -> Vec<Vec<u8>> {
    let worst: Vec<Vec<u8>> = host_test::worst_cases::worst_cases().into_iter().map(|(_, e)| e.into_bytes()).collect();
    let xml = fixture_lines(&[".xml"]);
    let json = fixture_lines(&[".jsonl", ".json"]);
    match input {
        Input::TailXml | Input::TcpXml => {
            let mut lines = [xml.clone(), json.clone(), worst].concat();
            lines.extend(writer_spellings_xml(&first_positive(&xml), &negative_of(&first_positive(&xml))));
            // JSON events as text: the module reads their escapes.
            lines.extend(writer_spellings_json(&first_positive(&json), &negative_of(&first_positive(&json))));
            lines
        }
        Input::TailJson => unreachable!("a tail of JSON lines is not prefiltered"),
        Input::Winevtlog => {
            let mut events = xml.clone();
            events.extend(writer_spellings_xml(&first_positive(&xml), &negative_of(&first_positive(&xml))));
            events
                .into_iter()
                .map(|x| {
                    let system = String::from_utf8_lossy(&x).into_owned();
                    serde_json::json!({"System": system, "Message": "Process Create:"}).to_string().into_bytes()
                })
                .collect()
        }
    }
}

/// With and without the prefilter, the same records, for every input, mode and behaviour.
#[test]
fn the_prefilter_changes_no_record() {
    for fluent_bit in FluentBit::builds_for_tests() {
        let dir = fluent_bit.scratch_dir("prefilter-equal");
        let module = dir.join("winrm_detect.wasm");
        fs::write(&module, winrm_detect_runner::fluent_bit::artifact(None).unwrap()).unwrap();
        for input in [Input::TailXml, Input::Winevtlog] {
            let lines = lines_for(input);
            let file = dir.join("events.txt");
            fs::write(&file, lines.iter().flat_map(|l| l.iter().chain(b"\n")).copied().collect::<Vec<u8>>()).unwrap();
            for mode in [Mode::Parity, Mode::Extended] {
                for behaviour in [Behaviour::Annotate, Behaviour::Filter] {
                    let want = forwarded(&lines, input, behaviour, mode);
                    let what = format!("{input:?} {mode:?} {behaviour:?} in {}", fluent_bit.build);
                    // The prediction is the native library's on the record as we think Fluent
                    // Bit shapes it (invalid UTF-8 aside): near enough to know when a run is done.
                    let alone = run(
                        &fluent_bit,
                        &dir,
                        &configuration(input, behaviour, mode, &module, &file, false),
                        want.saturating_sub(2),
                    );
                    assert!(alone.len().abs_diff(want) <= 2, "{what}: {} records from the module alone", alone.len());
                    let yaml = configuration(input, behaviour, mode, &module, &file, true);
                    let prefiltered = run(&fluent_bit, &dir, &yaml, alone.len());
                    if prefiltered != alone {
                        let only: Vec<_> = prefiltered.iter().filter(|r| !alone.contains(r)).take(3).collect();
                        let missing: Vec<_> = alone.iter().filter(|r| !prefiltered.contains(r)).take(3).collect();
                        panic!("{what}: prefiltered differs\nonly with it: {only:#?}\nonly without: {missing:#?}");
                    }
                }
            }
        }
    }
}

/// What the prefilter gives up (issue 45): a needle spelled by a character reference, a
/// comment, CDATA or a JSON escape, which no real writer writes. The module alone reads each
/// back and fires; behind the prefilter the same record comes out unexamined.
#[test]
fn forged_spellings_are_passed_over() {
    let xml = fixture_lines(&[".xml"]);
    let json = fixture_lines(&[".jsonl", ".json"]);
    for fluent_bit in FluentBit::builds_for_tests() {
        let dir = fluent_bit.scratch_dir("prefilter-forged");
        let module = dir.join("winrm_detect.wasm");
        fs::write(&module, winrm_detect_runner::fluent_bit::artifact(None).unwrap()).unwrap();
        // What each mode's prefilter looks for in these events: the term every parity search
        // requires, and in extended mode the name of PowerShell.
        for (mode, needle) in [(Mode::Parity, "-computername"), (Mode::Extended, "powershell")] {
            let lines: Vec<String> = [first_with(&xml, "-ComputerName"), first_with(&json, "-ComputerName")]
                .iter()
                .flat_map(|line| forged(line, needle))
                .collect();
            assert!(lines.iter().all(|l| !l.to_ascii_lowercase().contains(needle)), "{needle} left in {lines:?}");
            let file = dir.join("forged.txt");
            fs::write(&file, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
            let annotated = |prefilter| {
                let yaml = configuration(Input::TailXml, Behaviour::Annotate, mode, &module, &file, prefilter);
                let out = run(&fluent_bit, &dir, &yaml, lines.len());
                assert_eq!(out.len(), lines.len(), "{mode:?} in {}", fluent_bit.build);
                out.iter().filter(|r| r.contains("\"winrm_detect\"")).count()
            };
            let (alone, prefiltered) = (annotated(false), annotated(true));
            eprintln!(
                "{mode:?} in {}: {} forged records, {alone} annotated by the module alone, {prefiltered} behind the prefilter",
                fluent_bit.build,
                lines.len()
            );
            assert_eq!((alone, prefiltered), (lines.len(), 0), "{mode:?} in {}", fluent_bit.build);
        }
    }
}

/// The corpus (65,145 Sysmon events as XML lines) through `tail`, both modes annotating.
#[test]
fn the_prefilter_changes_no_record_of_the_corpus() {
    let bulk = host_test::corpus_bulk("xml.gz");
    if !bulk.is_file() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "no corpus at {}", bulk.display());
        return;
    }
    for fluent_bit in FluentBit::builds_for_tests() {
        let dir = fluent_bit.scratch_dir("prefilter-corpus");
        let module = dir.join("winrm_detect.wasm");
        fs::write(&module, winrm_detect_runner::fluent_bit::artifact(None).unwrap()).unwrap();
        let file = dir.join("sysmon.xml");
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(fs::File::open(&bulk).unwrap()).read_to_end(&mut text).unwrap();
        fs::write(&file, &text).unwrap();
        let events = text.split(|&b| b == b'\n').filter(|l| !l.trim_ascii().is_empty()).count();
        for mode in [Mode::Parity, Mode::Extended] {
            let with = |prefilter| configuration(Input::TailXml, Behaviour::Annotate, mode, &module, &file, prefilter);
            let alone = run(&fluent_bit, &dir, &with(false), events);
            assert_eq!(alone.len(), events);
            assert!(run(&fluent_bit, &dir, &with(true), events) == alone, "{mode:?} in {}", fluent_bit.build);
        }
    }
}

/// A slow output: Fluent Bit holds what it cannot deliver, and the emitter, which holds the
/// candidates, must not refuse any (`rewrite_tag` would pass a refused record on under its
/// old tag, past the module). As configured (no memory limit of its own) every record comes
/// out annotated; with a small limit, the same input loses matches.
#[test]
fn a_slow_output_loses_no_match() {
    let Some(fluent_bit) = FluentBit::for_tests() else { return };
    let dir = fluent_bit.scratch_dir("prefilter-slow");
    let module = dir.join("winrm_detect.wasm");
    fs::write(&module, winrm_detect_runner::fluent_bit::artifact(None).unwrap()).unwrap();
    let positive = first_positive(&fixture_lines(&[".xml"]));
    let count = 5000;
    let file = dir.join("events.xml");
    fs::write(&file, format!("{positive}\n").repeat(count)).unwrap();
    let annotated = |limit: Option<&str>| {
        let yaml = configuration(Input::TailXml, Behaviour::Annotate, Mode::Parity, &module, &file, true);
        let mut p = Pipeline::parse(&yaml).unwrap();
        if let Some(limit) = limit {
            p.filters = set_value(&p.filters, "emitter_mem_buf_limit", limit).unwrap();
        }
        let port = host_test::free_loopback_port();
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        p.outputs = format!(
            "    - name: tcp\n      match: '*'\n      host: 127.0.0.1\n      port: {port}\n      format: json_lines\n      json_date_key: false\n"
        );
        // Reads 16 KiB every 20 ms (some 0.8 MB/s), over as many connections as Fluent Bit
        // opens, until it has every record or a connection brings nothing (the test's own,
        // once Fluent Bit is gone).
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            while let Ok((mut stream, _)) = listener.accept() {
                stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut buf = [0u8; 16 << 10];
                let before = got.len();
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                    std::thread::sleep(Duration::from_millis(20));
                }
                if got.len() == before || got.iter().filter(|&&b| b == b'\n').count() >= count {
                    break;
                }
            }
            got
        });
        let config = dir.join("fluent-bit.yaml");
        fs::write(&config, p.to_yaml()).unwrap();
        let mut child = std::process::Command::new(&fluent_bit.bin)
            .arg("-c")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while !reader.is_finished() && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        if !reader.is_finished() {
            drop(std::net::TcpStream::connect(("127.0.0.1", port)));
        }
        let got = reader.join().unwrap();
        let text = String::from_utf8_lossy(&got);
        (text.lines().count(), text.lines().filter(|l| l.contains("\"winrm_detect\"")).count())
    };
    let (out, matched) = annotated(None);
    assert_eq!((out, matched), (count, count), "as configured, every record comes out annotated");
    eprintln!("as configured: {out} records out, {matched} annotated, of {count}");
    let (out, matched) = annotated(Some("32K"));
    eprintln!("emitter_mem_buf_limit 32K: {out} records out, {matched} annotated, of {count}");
    assert!(matched < out, "with a 32K emitter limit some records pass the module unexamined: {matched} of {out}");
}
