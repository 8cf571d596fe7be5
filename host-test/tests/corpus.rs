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
use std::path::{Path, PathBuf};

use host_test::corpus;
use winrm_detect_runner::backend::{Backend, Wasm};
use winrm_detect_runner::component::Runtime;

fn root() -> PathBuf {
    host_test::workspace_root()
}

/// Files that hold the positive (the same Sysmon record 17954, three times over).
const POSITIVE_FILES: [&str; 5] = [
    "jayanthk007_atomic-evtx/bulk/sysmon_all_ttp_evtx.jsonl.gz",
    "jayanthk007_atomic-evtx/bulk/sysmon_all_ttp_evtx.xml.gz",
    "jayanthk007_atomic-evtx/ttp_evtx/T1021.006-2/converted/T1021.006-2_Microsoft-Windows-Sysmon_Operational.jsonl",
    "jayanthk007_atomic-evtx/ttp_evtx/T1021.006-2/converted/T1021.006-2_Microsoft-Windows-Sysmon_Operational.xml",
    "jayanthk007_atomic-evtx/unfiltered_json/T1021.006-2/T1021.006-2_Microsoft-Windows-Sysmon_Operational.json",
];

#[derive(Default)]
struct FileResult {
    events: usize,
    errors: Vec<String>,
    matches: Vec<(u64, winrm_detect::Annotation)>,
}

fn scan_corpus(backend: &mut dyn Backend, dir: &Path, files: &[PathBuf]) -> BTreeMap<String, FileResult> {
    let mut results = BTreeMap::new();
    for path in files {
        let Some(events) = corpus::events_of(path) else { continue };
        let rel = path.strip_prefix(dir).unwrap().to_string_lossy().to_string();
        let mut r = FileResult::default();
        for chunk in events.chunks(winrm_detect_runner::scan::BATCH) {
            let batch: Vec<Vec<u8>> = chunk.iter().map(|(_, e)| e.clone()).collect();
            for ((line, _), outcome) in chunk.iter().zip(backend.scan_batch(&batch)) {
                r.events += 1;
                match outcome {
                    Ok(list) => r.matches.extend(list.into_iter().map(|a| (*line, a))),
                    Err(e) if corpus::MALFORMED.contains(&(rel.as_str(), *line)) => {
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
    let Some(dir) = corpus::dir() else { return };
    let files = corpus::files(&dir);
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
    let Some(dir) = corpus::dir() else { return };
    let mut files = corpus::files(&dir);
    files.extend(corpus::files(&root().join("fixtures/events")));
    files.sort();
    const EVERY_RULE: &str = r#""rules":["process-creation","script-block","winrs","interactive-session","winrm-spawning-a-process","winrm-execute-shell"]"#;
    let every_rule = |mode: &str| format!(r#"{{"mode":"{mode}",{EVERY_RULE}}}"#);
    let configs = [
        r#"{"mode":"parity"}"#.to_string(),
        r#"{"mode":"extended"}"#.to_string(),
        r#"{"mode":"parity","macro_profile":"escu-2021"}"#.to_string(),
        r#"{"mode":"extended","macro_profile":"escu-2021"}"#.to_string(),
        every_rule("parity"),
        every_rule("extended"),
    ];
    let make = || -> Vec<winrm_detect::Detector> {
        configs.iter().map(|c| winrm_detect::Detector::from_json(c).unwrap()).collect()
    };
    // Apart, because a detector holds the parts of multi-part script blocks it has seen.
    let (detectors, unfiltered, batched, single) = (make(), make(), make(), make());
    let mut events = 0u64;
    for path in &files {
        let Some(list) = corpus::events_of(path) else { continue };
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
            for ((detector, without), config) in detectors.iter().zip(&unfiltered).zip(&configs) {
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
            for ((detector, alone), config) in batched.iter().zip(&single).zip(&configs) {
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
    // How much the reject saves: the share of events parity mode never parses, with the
    // default rules and with every rule (the target side lets every child of wsmprovhost.exe
    // through, and this lab ran every test over PowerShell remoting).
    let settled = |rules: &[winrm_detect::Rule]| {
        let probe = winrm_detect::prefilter::Prefilter::new(
            winrm_detect::Mode::Parity,
            winrm_detect::MacroProfile::Escu2026,
            rules,
        );
        let mut scratch = Vec::new();
        let mut n = 0u64;
        for path in &files {
            for (_, event) in corpus::events_of(path).unwrap_or_default() {
                n += u64::from(!probe.may_match(&event, &mut scratch));
            }
        }
        n
    };
    let rejected_without_parse = settled(&winrm_detect::Rule::DEFAULT);
    let every_rule = settled(&winrm_detect::Rule::ALL);
    println!(
        "{events} events; parity's fast reject settles {rejected_without_parse} without parsing with the default rules, {every_rule} with every rule"
    );
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
    let Some(dir) = corpus::dir() else { return };
    let files = corpus::files(&dir);
    let only_blocks = |mode| Detector::new(Config { mode, rules: vec![Rule::ScriptBlock], ..Config::default() });
    let mut report = String::from("file\t4104 events\tmulti-part\tparity matches\textended matches\n");
    let (mut blocks, mut fired) = (0, Vec::new());
    for path in &files {
        let Some(events) = corpus::events_of(path) else { continue };
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

/// The WinRM family's other rules over every corpus event, each rule alone in parity mode,
/// natively (the component is held to the library by the fixture tests): matches per file and
/// rule, and for the target side the children and users they fire on, which is what an
/// operator tunes with the allowlists. Printed, and written to `target/corpus-family.txt`.
#[test]
fn the_winrm_family_in_the_corpus() {
    use winrm_detect::{Config, Detector, Rule};
    let Some(dir) = corpus::dir() else { return };
    let files = corpus::files(&dir);
    let family = [Rule::Winrs, Rule::InteractiveSession, Rule::WinrmSpawningAProcess, Rule::WinrmExecuteShell];
    let mut totals: BTreeMap<&str, usize> = BTreeMap::new();
    // What the target side fires on, by rule, child and user, in the bulk JSONL alone (its XML
    // twin and the per-test files hold the same events again).
    let mut bulk: BTreeMap<(&str, String, String), usize> = BTreeMap::new();
    let mut report = String::from("file\trule\tmatches\n");
    for path in &files {
        let Some(events) = corpus::events_of(path) else { continue };
        let rel = path.strip_prefix(&dir).unwrap().display().to_string();
        for rule in family {
            let detector = Detector::new(Config { rules: vec![rule], ..Config::default() });
            let mut here = 0;
            for (_, event) in &events {
                for a in detector.scan(event).unwrap_or_default() {
                    assert_eq!(a.rule, rule);
                    here += 1;
                    let field = |name| a.field(name).unwrap_or("-").to_ascii_lowercase();
                    if rel.ends_with("bulk/sysmon_all_ttp_evtx.jsonl.gz") {
                        *bulk.entry((rule.as_str(), field("process_name"), field("user"))).or_default() += 1;
                    } else if !rel.starts_with("jayanthk007") {
                        report.push_str(&format!(
                            "{rel}: {} {} {} under {} by {}\n",
                            rule.as_str(),
                            field("dest"),
                            field("process_name"),
                            field("parent_process_name"),
                            field("user")
                        ));
                    }
                }
            }
            if here > 0 {
                report.push_str(&format!("{rel}\t{}\t{here}\n", rule.as_str()));
                *totals.entry(rule.as_str()).or_default() += here;
            }
        }
    }
    report.push_str("\nbulk/sysmon_all_ttp_evtx.jsonl.gz: rule, process_name, user: matches\n");
    for ((rule, name, user), n) in &bulk {
        report.push_str(&format!("{rule}\t{name}\t{user}\t{n}\n"));
    }
    report.push_str(&format!("\ntotals: {totals:?}\n"));
    let _ = fs::write(root().join("target/corpus-family.txt"), &report);
    println!("{report}");
    // No corpus event runs winrs or Enter-PSSession (the README's search for them found none).
    // The target side: the lab's harness (admin_test, every Atomic test run over PowerShell
    // remoting: the bulk file's whoami, powershell and cmd children of wsmprovhost.exe, the
    // README's 1,066, 494 and 466), the same again in the XML twin and the per-test files,
    // OTRF's PSRemoting lateral movements (Covenant, Empire, PurpleSharp), and one winrs
    // execution of EVTX-ATTACK-SAMPLES in its two conversions.
    let want = BTreeMap::from([("winrm-execute-shell", 2), ("winrm-spawning-a-process", 4080)]);
    assert_eq!(totals, want);
    let bulk_want = [("cmd.exe", 466), ("powershell.exe", 494), ("whoami.exe", 1066)]
        .map(|(name, n)| (("winrm-spawning-a-process", name.to_string(), "admin_test".to_string()), n));
    assert_eq!(bulk, BTreeMap::from(bulk_want));
}

/// What a record's text says it is, by substrings alone: an independent reading, knowing no
/// shape, to hold the detector's shapes (and its own "never silent" check) to.
#[derive(Default, Debug)]
struct Said {
    process_creation: bool,
    script_block: bool,
    /// A non-empty command line or script text is in view.
    payload: bool,
}

/// The event ids a record's text names: a number right after an `EventID`, `EventCode`,
/// `event_id` or `"code"` key, in JSON, XML or `Name=value` text (through xmltodict's
/// `{"#text": …}`).
fn ids_in(text: &str) -> Vec<u32> {
    let mut ids = Vec::new();
    for key in ["EventID", "EventCode", "event_id", "\"code\""] {
        for (at, _) in text.match_indices(key) {
            let mut rest = &text[at + key.len()..];
            if let Some(after) = rest.strip_prefix("\":{").and_then(|r| r.find("#text\":").map(|i| &r[i + 7..])) {
                rest = after;
            }
            let rest = rest.trim_start_matches(['"', ':', '>', '=', ' ']);
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(id) = digits.parse() {
                ids.push(id);
            }
        }
    }
    ids
}

fn said(text: &str) -> Said {
    let lower = text.to_ascii_lowercase();
    let ids = ids_in(text);
    let sysmon = lower.contains("microsoft-windows-sysmon");
    let security = lower.contains("security-auditing") || text.contains(">Security<") || text.contains("\"Security\"");
    let powershell = lower.contains("powershell/operational") || lower.contains("powershellcore");
    let process_creation = (ids.contains(&1) && sysmon) || (ids.contains(&4688) && security);
    let script_block = ids.contains(&4104) && powershell;
    // An empty value is no payload: 4688 without process-command-line auditing, `-`.
    let payload = ["CommandLine", "command_line", "ScriptBlockText", "script_block_text"].iter().any(|key| {
        text.match_indices(key).any(|(at, _)| {
            let rest = &text[at + key.len()..];
            let rest = rest.trim_start_matches(['"', '\'', ':', '>', '=', ' ', '\\']);
            let rest = rest.strip_prefix("#text\":\"").unwrap_or(rest);
            !(rest.starts_with("</")
                || rest.starts_with("/>")
                || rest.starts_with(',')
                || rest.starts_with('}')
                || rest.starts_with("null")
                || rest.starts_with("-\"")
                || rest.starts_with("-<")
                || rest.is_empty())
        })
    });
    Said { process_creation, script_block, payload }
}

/// Never silent: every record of the corpus (every file, every schema) and of our fixtures
/// that carries a process creation or a script block is either read as one, with its
/// command line or script text where it has one, or is an error that says what it lacks.
/// Counted by the independent reading above, and printed.
#[test]
fn no_record_that_carries_a_rule_s_event_goes_unread() {
    use winrm_detect::event::{Format, Kind, parse};
    let Some(dir) = corpus::dir() else { return };
    let mut files = corpus::files(&dir);
    files.extend(corpus::files(&root().join("fixtures/events")));
    let (mut records, mut carrying, mut read_whole, mut said_so) = (0, 0, 0, 0);
    let (mut silent, mut errors) = (Vec::new(), Vec::new());
    for path in &files {
        let Some(events) = corpus::events_of(path) else { continue };
        for (line, event) in &events {
            records += 1;
            let Ok(text) = std::str::from_utf8(event) else { continue };
            let s = said(text);
            if !(s.process_creation || s.script_block) {
                continue;
            }
            carrying += 1;
            match parse(text, Format::Auto, 64) {
                Ok(e) => {
                    let whole = match &e.kind {
                        Kind::ProcessCreation => s.process_creation && (e.fields.process.is_some() || !s.payload),
                        Kind::ScriptBlock(b) => s.script_block && (!b.text.is_empty() || !s.payload),
                        Kind::Other(_) => false,
                    };
                    if whole {
                        read_whole += 1;
                    } else {
                        silent.push(format!("{}:{line}: {s:?} read as {e:?}", path.display()));
                    }
                }
                Err(e) => {
                    said_so += 1;
                    errors.push(format!("{}:{line}: {}: {}", path.display(), e.kind.as_str(), e.message));
                }
            }
        }
    }
    println!(
        "never silent: {records} records; {carrying} carry a process creation or a script block: {read_whole} read whole, \
         {said_so} errors that say what they lack, {} silent",
        silent.len()
    );
    for e in &errors {
        println!("  {e}");
    }
    assert!(carrying > 30_000, "only {carrying} records carry a rule's event");
    assert!(
        silent.is_empty(),
        "{} silent:\n{}",
        silent.len(),
        silent.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}
