//! The real events in `../shared/corpus` (recorded by third parties; see its README) through
//! the component: parity mode must fire on the one real positive, in every file that holds a
//! copy of it, and on nothing else; extended mode must add nothing; every event must be read
//! without an error but for the ones the corpus README calls malformed. Under CI a missing
//! corpus fails the test instead of skipping it.
//!
//! The per-file table (events, errors, matches) is written to `target/corpus-report.txt`
//! and printed by `.ci/run`.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use winrm_detect_runner::backend::{Backend, Wasm};
use winrm_detect_runner::component::Runtime;
use winrm_detect_runner::input;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn corpus() -> Option<PathBuf> {
    let dir = root().join("../shared/corpus");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the corpus is missing at {} and CI=true: it must be there", dir.display());
    }
    eprintln!("skipping: no corpus at {}", dir.display());
    None
}

/// Files that hold the positive (the same Sysmon record 17954, three times over).
const POSITIVE_FILES: [&str; 5] = [
    "jayanthk007_atomic-evtx/bulk/sysmon_all_ttp_evtx.jsonl.gz",
    "jayanthk007_atomic-evtx/bulk/sysmon_all_ttp_evtx.xml.gz",
    "jayanthk007_atomic-evtx/ttp_evtx/T1021.006-2/converted/T1021.006-2_Microsoft-Windows-Sysmon_Operational.jsonl",
    "jayanthk007_atomic-evtx/ttp_evtx/T1021.006-2/converted/T1021.006-2_Microsoft-Windows-Sysmon_Operational.xml",
    "jayanthk007_atomic-evtx/unfiltered_json/T1021.006-2/T1021.006-2_Microsoft-Windows-Sysmon_Operational.json",
];

/// Lines the corpus README calls malformed (a raw U+000F in the XML twin): an error there
/// is allowed, not required.
const MALFORMED: [(&str, u64); 3] = [
    ("sbousseaden_EVTX-ATTACK-SAMPLES/Lateral_Movement/converted/LM_ScheduledTask_ATSVC_target_host.xml", 28),
    ("sbousseaden_EVTX-ATTACK-SAMPLES/Lateral_Movement/converted/LM_ScheduledTask_ATSVC_target_host.xml", 29),
    ("sbousseaden_EVTX-ATTACK-SAMPLES/Lateral_Movement/converted/LM_ScheduledTask_ATSVC_target_host.xml", 30),
];

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn lines_of(reader: &mut dyn BufRead, events: &mut Vec<(u64, Vec<u8>)>) {
    let mut buf = Vec::new();
    let mut n = 0;
    while input::next_line(reader, &mut buf).unwrap() {
        n += 1;
        if !input::is_blank(&buf) {
            events.push((n, buf.clone()));
        }
    }
}

/// The events of one corpus file with their line numbers (element numbers for JSON arrays
/// and whole-file documents), or `None` when the file holds no events we read.
fn events_of(path: &Path) -> Option<Vec<(u64, Vec<u8>)>> {
    let name = path.file_name()?.to_str()?;
    if name.starts_with("manifest") {
        // The corpus's own listing, not events.
        return None;
    }
    let mut events = Vec::new();
    if name.ends_with(".tar.gz") {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(fs::File::open(path).unwrap()));
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            lines_of(&mut BufReader::new(Cursor::new(data)), &mut events);
        }
    } else if name.ends_with(".zip") {
        let mut archive = zip::ZipArchive::new(fs::File::open(path).unwrap()).unwrap();
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).unwrap();
            if file.is_dir() {
                continue;
            }
            let mut data = Vec::new();
            file.read_to_end(&mut data).unwrap();
            lines_of(&mut BufReader::new(Cursor::new(data)), &mut events);
        }
    } else if name.ends_with(".gz") || name.ends_with(".jsonl") || name.ends_with(".xml") {
        lines_of(&mut *input::open(path.to_str()?).unwrap(), &mut events);
    } else if name.ends_with(".json") {
        // Pretty-printed single events (SigmaHQ), an array (Winlogbeat golden), or JSON lines.
        let text = fs::read(path).unwrap();
        let body = text.strip_prefix(b"\xef\xbb\xbf".as_slice()).unwrap_or(&text);
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Array(items)) => {
                for (i, item) in items.into_iter().enumerate() {
                    events.push((i as u64 + 1, item.to_string().into_bytes()));
                }
            }
            Ok(doc @ serde_json::Value::Object(_)) => events.push((1, doc.to_string().into_bytes())),
            _ => lines_of(&mut BufReader::new(Cursor::new(text)), &mut events),
        }
    } else {
        return None;
    }
    Some(events)
}

#[derive(Default)]
struct FileResult {
    events: usize,
    errors: Vec<String>,
    matches: Vec<(u64, winrm_detect::Annotation)>,
}

fn scan_corpus(backend: &mut dyn Backend, dir: &Path, files: &[PathBuf]) -> BTreeMap<String, FileResult> {
    let mut results = BTreeMap::new();
    for path in files {
        let Some(events) = events_of(path) else { continue };
        let rel = path.strip_prefix(dir).unwrap().to_string_lossy().to_string();
        let mut r = FileResult::default();
        for chunk in events.chunks(winrm_detect_runner::scan::BATCH) {
            let batch: Vec<Vec<u8>> = chunk.iter().map(|(_, e)| e.clone()).collect();
            for ((line, _), outcome) in chunk.iter().zip(backend.scan_batch(&batch)) {
                r.events += 1;
                match outcome {
                    Ok(list) => r.matches.extend(list.into_iter().map(|a| (*line, a))),
                    Err(e) if MALFORMED.contains(&(rel.as_str(), *line)) => {
                        let _ = e;
                    }
                    Err(e) => r.errors.push(format!("{rel}:{line}: {e}")),
                }
            }
        }
        results.insert(rel, r);
    }
    results
}

#[test]
fn parity_fires_on_the_real_positive_and_nothing_else() {
    let Some(dir) = corpus() else { return };
    let mut files = Vec::new();
    walk(&dir, &mut files);
    files.sort();
    let runtime = Runtime::load_default().unwrap();

    let mut parity = Wasm::new(&runtime, r#"{"mode":"parity"}"#).unwrap().unwrap();
    let results = scan_corpus(&mut parity, &dir, &files);
    let mut extended = Wasm::new(&runtime, r#"{"mode":"extended"}"#).unwrap().unwrap();
    let extended_results = scan_corpus(&mut extended, &dir, &files);

    let mut report = String::from("file\tevents\terrors\tparity matches\textended matches\n");
    let mut problems = Vec::new();
    let (mut total_events, mut total_files) = (0, 0);
    for (rel, r) in &results {
        let x = &extended_results[rel];
        report.push_str(&format!(
            "{rel}\t{}\t{}\t{}\t{}\n",
            r.events,
            r.errors.len(),
            r.matches.len(),
            x.matches.len()
        ));
        total_events += r.events;
        total_files += 1;
        problems.extend(r.errors.iter().cloned());
        let expected = usize::from(POSITIVE_FILES.contains(&rel.as_str()));
        if r.matches.len() != expected {
            problems.push(format!("{rel}: {} parity matches, want {expected}", r.matches.len()));
        }
        let lines = |m: &[(u64, winrm_detect::Annotation)]| m.iter().map(|(l, a)| (*l, a.clone())).collect::<Vec<_>>();
        if lines(&x.matches) != lines(&r.matches) {
            problems.push(format!(
                "{rel}: extended mode differs from parity: {:?}",
                x.matches.iter().map(|(l, a)| (l, &a.techniques)).collect::<Vec<_>>()
            ));
        }
        for (line, a) in &r.matches {
            let want = [
                ("dest", "Server002"),
                ("user", "admin_test"),
                ("process_id", "4076"),
                ("parent_process_name", "wsmprovhost.exe"),
                ("process_name", "powershell.exe"),
            ];
            for (field, value) in want {
                if a.field(field) != Some(value) {
                    problems.push(format!("{rel}:{line}: {field} is {:?}, want {value}", a.field(field)));
                }
            }
            assert_eq!(a.risk_object, "Server002");
            assert!(a.message.contains("from Server002 by abusing WinRM"), "{}", a.message);
            assert!(a.remote_targets.iter().all(|t| t.loopback), "{:?}", a.remote_targets);
            if rel.contains("bulk/") && *line != 5806 {
                problems.push(format!("{rel}: the match is on line {line}, want 5806"));
            }
        }
    }
    report.push_str(&format!("total\t{total_events} events in {total_files} files\n"));
    let report_path = root().join("target/corpus-report.txt");
    let _ = fs::create_dir_all(report_path.parent().unwrap());
    fs::write(&report_path, &report).unwrap();
    println!("{report}");
    assert!(total_events > 200_000, "only {total_events} corpus events read");
    for f in POSITIVE_FILES {
        assert!(results.contains_key(f), "{f} was not read");
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn the_fast_reject_never_changes_a_verdict() {
    let Some(dir) = corpus() else { return };
    let mut files = Vec::new();
    walk(&dir, &mut files);
    walk(&root().join("fixtures/events"), &mut files);
    files.sort();
    let configs = [
        r#"{"mode":"parity"}"#,
        r#"{"mode":"extended"}"#,
        r#"{"mode":"parity","macro_profile":"escu-2021"}"#,
        r#"{"mode":"extended","macro_profile":"escu-2021"}"#,
    ];
    let make = || -> Vec<winrm_detect::Detector> {
        configs.iter().map(|c| winrm_detect::Detector::from_json(c).unwrap()).collect()
    };
    // Apart, because a detector holds the parts of multi-part script blocks it has seen.
    let (detectors, unfiltered, batched, single) = (make(), make(), make(), make());
    let (mut events, mut rejected_without_parse) = (0u64, 0u64);
    for path in &files {
        let Some(list) = events_of(path) else { continue };
        for (line, event) in &list {
            events += 1;
            // EVTX JSON read straight into the fields, as through a `Value`.
            if let Ok(text) = std::str::from_utf8(event)
                && text.trim_start().starts_with('{')
            {
                let auto = winrm_detect::event::Format::Auto;
                let typed = winrm_detect::event::parse(text, auto, 64);
                assert_eq!(typed, winrm_detect::event::parse_generally(text, auto, 64), "{}:{line}", path.display());
            }
            for ((detector, without), config) in detectors.iter().zip(&unfiltered).zip(configs) {
                let fast = detector.scan(event);
                let full = without.scan_without_prefilter(event);
                match (&fast, &full) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{}:{line} with {config}", path.display()),
                    // The fast path may skip parsing a broken event that cannot match.
                    (Ok(a), Err(_)) => assert!(a.is_empty(), "{}:{line}", path.display()),
                    (Err(a), Err(b)) => assert_eq!(a, b, "{}:{line}", path.display()),
                    (Err(e), Ok(_)) => panic!("{}:{line} with {config}: fast path failed: {e}", path.display()),
                }
            }
        }
        // The batch path (`scan-lines`, one search over 256 events) agrees with the events one by one.
        for chunk in list.chunks(256).filter(|c| c.iter().all(|(_, e)| !e.is_empty() && !e.contains(&b'\n'))) {
            let batch = chunk.iter().map(|(_, e)| e.as_slice()).collect::<Vec<_>>().join(&b'\n');
            for ((detector, alone), config) in batched.iter().zip(&single).zip(configs) {
                let mut flagged = vec![None; chunk.len()];
                detector.scan_lines(&batch, |i, outcome| flagged[i] = Some(outcome));
                for ((line, event), batched) in chunk.iter().zip(flagged) {
                    let one = alone.scan(event);
                    let one = if one.as_ref().is_ok_and(|a| a.is_empty()) { None } else { Some(one) };
                    assert_eq!(batched, one, "{}:{line} with {config}, batched", path.display());
                }
            }
        }
    }
    // How much the reject saves: the share of events parity mode never parses.
    let probe = winrm_detect::prefilter::Prefilter::new(
        winrm_detect::Mode::Parity,
        winrm_detect::MacroProfile::Escu2026,
        &winrm_detect::Rule::ALL,
    );
    let mut scratch = Vec::new();
    for path in &files {
        for (_, event) in events_of(path).unwrap_or_default() {
            if !probe.may_match(&event, &mut scratch) {
                rejected_without_parse += 1;
            }
        }
    }
    println!("{events} events; parity's fast reject settles {rejected_without_parse} without parsing");
    assert!(events > 200_000);
    assert!(rejected_without_parse * 100 / events >= 99, "{rejected_without_parse} of {events}");
}

/// Every PowerShell script-block event (EventID 4104) of the corpus, counted by file, and what
/// each mode of the script-block twin makes of them, natively (the component is held to the
/// native library by the fixture tests). Printed, and written to
/// `target/corpus-script-blocks.txt`.
#[test]
fn script_blocks_in_the_corpus() {
    use winrm_detect::event::{Format, Kind};
    use winrm_detect::{Config, Detector, Mode, Rule};
    let Some(dir) = corpus() else { return };
    let mut files = Vec::new();
    walk(&dir, &mut files);
    files.sort();
    let only_blocks = |mode| Detector::new(Config { mode, rules: vec![Rule::ScriptBlock], ..Config::default() });
    let mut report = String::from("file\t4104 events\tmulti-part\tparity matches\textended matches\n");
    let (mut blocks, mut fired) = (0, Vec::new());
    for path in &files {
        let Some(events) = events_of(path) else { continue };
        let rel = path.strip_prefix(&dir).unwrap().display().to_string();
        let (parity, extended) = (only_blocks(Mode::Parity), only_blocks(Mode::Extended));
        let (mut here, mut parts, mut p, mut x) = (0, 0, 0, 0);
        for (line, event) in &events {
            let Ok(text) = std::str::from_utf8(event) else { continue };
            let Ok(parsed) = winrm_detect::event::parse(text, Format::Auto, 64) else { continue };
            let Kind::ScriptBlock(block) = &parsed.kind else { continue };
            here += 1;
            parts += usize::from(block.message_total.is_some_and(|t| t > 1));
            for (mode, detector, count) in [("parity", &parity, &mut p), ("extended", &extended, &mut x)] {
                let found = detector.scan(event).unwrap();
                *count += found.len();
                for a in found {
                    fired.push(format!("{rel}:{line}: {mode} {:?} {:?}", a.matcher, a.techniques));
                }
            }
        }
        if here > 0 {
            report.push_str(&format!("{rel}\t{here}\t{parts}\t{p}\t{x}\n"));
            blocks += here;
        }
    }
    report.push_str(&format!("total\t{blocks} script-block events\n"));
    for f in &fired {
        report.push_str(&format!("fired: {f}\n"));
    }
    let _ = fs::write(root().join("target/corpus-script-blocks.txt"), &report);
    println!("{report}");
    assert_eq!(blocks, 197, "the corpus's 4104 events, as its README lists them");
    assert!(fired.is_empty(), "no corpus script block runs Invoke-Command remotely:\n{}", fired.join("\n"));
}
