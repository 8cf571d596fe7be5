//! Hostile input and faults, through the component: every malformed event gets a typed
//! error and the next event is processed; a guest that traps (out of memory, out of time)
//! is replaced and only its event is reported failed; nothing is ever lost.

use std::io::{BufReader, Cursor};
use std::path::Path;
use std::time::Duration;

use winrm_detect::ErrorKind;
use winrm_detect_runner::backend::{Backend, Wasm};
use winrm_detect_runner::component::{HostLimits, Runtime};
use winrm_detect_runner::scan;

fn positive() -> Vec<u8> {
    let text = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/events/sysmon1.xml")).unwrap();
    text.split(|&b| b == b'\n').next().unwrap().to_vec()
}

fn kind_of(outcome: &winrm_detect_runner::backend::Outcome) -> Option<ErrorKind> {
    outcome.as_ref().err().map(|e| e.kind)
}

#[test]
fn malformed_events_get_typed_errors_and_the_next_event_is_read() {
    let runtime = Runtime::load_default().unwrap();
    let deep_json = format!("{{\"a\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_xml = format!("<Event>{}{}</Event>", "<a>".repeat(100_000), "</a>".repeat(100_000));
    let laughs = concat!(
        r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">"#,
        r#"<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><Event><System><Computer>&lol3;</Computer></System></Event>"#
    );
    let mut huge = b"{\"Image\":\"powershell.exe\",\"x\":\"".to_vec();
    huge.resize(10 << 20, b'a');
    huge.extend_from_slice(b"\"}");
    let cases: Vec<(Vec<u8>, ErrorKind)> = vec![
        (Vec::new(), ErrorKind::Empty),
        (b"   ".to_vec(), ErrorKind::Empty),
        (b"\xff\xfe<Event/>".to_vec(), ErrorKind::InvalidUtf8),
        (huge, ErrorKind::TooLarge),
        (deep_json.into_bytes(), ErrorKind::TooDeep),
        (deep_xml.into_bytes(), ErrorKind::TooDeep),
        (laughs.as_bytes().to_vec(), ErrorKind::BrokenXml),
        (b"{\"Event\": {\"System\": ".to_vec(), ErrorKind::BrokenJson),
        (b"<Event><System><EventID>1</EventID></System>".to_vec(), ErrorKind::BrokenXml),
        (b"{\"hello\": \"world\"}".to_vec(), ErrorKind::UnknownShape),
        (b"just some text".to_vec(), ErrorKind::UnknownShape),
        (b"<html><body/></html>".to_vec(), ErrorKind::UnknownShape),
    ];
    // With parse_all every event is parsed; by default the fast reject may settle a
    // well-framed event that cannot match unread, so the hostile events that would pass it
    // name a PowerShell image.
    for config in [r#"{"mode":"extended","parse_all":true}"#, r#"{"mode":"extended"}"#] {
        let mut wasm = Wasm::new(&runtime, config).unwrap().unwrap();
        for (event, kind) in &cases {
            let mut event = event.clone();
            if !config.contains("parse_all")
                && matches!(kind, ErrorKind::TooDeep | ErrorKind::BrokenXml | ErrorKind::UnknownShape)
            {
                let (at, mention): (usize, &[u8]) = if event.first() == Some(&b'{') {
                    (1, b"\"powershell.exe\":1,")
                } else {
                    (event.iter().position(|&b| b == b'>').map_or(0, |i| i + 1), b"powershell.exe")
                };
                event.splice(at..at, mention.iter().copied());
            }
            let out = wasm.scan_batch(&[event.clone(), positive()]);
            assert_eq!(out.len(), 2);
            assert_eq!(
                kind_of(&out[0]),
                Some(*kind),
                "{config}: {:?} for {:?}",
                out[0],
                String::from_utf8_lossy(&event[..event.len().min(80)])
            );
            assert!(!out[0].as_ref().unwrap_err().message.is_empty());
            assert_eq!(out[1].as_ref().map(Vec::len), Ok(1), "the next event must still be read");
        }
        assert_eq!(wasm.traps, 0, "bad input is an error value, never a trap");
    }
}

#[test]
fn a_guest_out_of_memory_is_replaced_and_only_its_event_fails() {
    // Let a 12 MB event through the detector's own size limit, but not through the memory
    // the host grants: copying it into the guest fails, and the guest aborts.
    let limits = HostLimits { memory_bytes: 8 << 20, ..HostLimits::default() };
    let runtime = Runtime::default_with_limits(limits).unwrap();
    let mut wasm = Wasm::new(&runtime, r#"{"limits":{"max_event_bytes":67108864}}"#).unwrap().unwrap();
    let big = vec![b'{'; 12 << 20];
    let out = wasm.scan_batch(&[positive(), big, positive()]);
    assert_eq!(out[0].as_ref().map(Vec::len), Ok(1));
    assert_eq!(kind_of(&out[1]), Some(ErrorKind::Internal), "{:?}", out[1]);
    assert!(out[1].as_ref().unwrap_err().message.contains("trapped"), "{:?}", out[1]);
    assert_eq!(out[2].as_ref().map(Vec::len), Ok(1));
    assert!(wasm.traps >= 1);
    // The fresh instance goes on working.
    assert_eq!(wasm.scan_batch(&[positive()])[0].as_ref().map(Vec::len), Ok(1));
}

#[test]
fn a_call_past_its_time_budget_is_interrupted() {
    let limits = HostLimits { memory_bytes: 512 << 20, call_budget: Duration::from_millis(20) };
    let runtime = Runtime::default_with_limits(limits).unwrap();
    let mut wasm = Wasm::new(&runtime, r#"{"limits":{"max_event_bytes":67108864}}"#).unwrap().unwrap();
    // Validating and folding 60 MB takes the guest far longer than 20 ms.
    let mut slow = b"{\"x\":\"".to_vec();
    slow.resize(60 << 20, b'a');
    slow.extend_from_slice(b"\"}");
    let out = wasm.scan_batch(&[slow]);
    assert_eq!(kind_of(&out[0]), Some(ErrorKind::Internal), "{:?}", out[0].as_ref().err());
    assert!(wasm.traps >= 1);
    // A fresh instance takes the next events. With a 20 ms budget on a loaded machine a
    // tiny call can itself be descheduled past it, so allow it a few tries.
    let recovered = (0..5).any(|_| wasm.scan_batch(&[positive()])[0].as_ref().is_ok_and(|a| a.len() == 1));
    assert!(recovered, "the component did not recover after the interrupted call");
}

#[test]
fn the_runner_loses_nothing_in_a_file_of_corpus_and_garbage() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    // Our fixtures, every line of the corpus twin that holds the positive, garbage between.
    let mut good: Vec<Vec<u8>> = Vec::new();
    for entry in std::fs::read_dir(root.join("fixtures/events")).unwrap() {
        let text = std::fs::read(entry.unwrap().path()).unwrap();
        good.extend(text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec));
    }
    let corpus = root.join("../shared/corpus/jayanthk007_atomic-evtx/ttp_evtx/T1021.006-2/converted/T1021.006-2_Microsoft-Windows-Sysmon_Operational.jsonl");
    if corpus.is_file() {
        let text = std::fs::read(&corpus).unwrap();
        good.extend(text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec));
    } else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "corpus missing under CI");
    }
    let garbage: Vec<Vec<u8>> = vec![
        b"\x00\x01\x02 binary".to_vec(),
        b"{\"truncated\": ".to_vec(),
        b"<Event><System>".to_vec(),
        vec![b'{'; 12 << 20],
        b"\xc3\x28 bad utf-8".to_vec(),
        b"[1,2,3]".to_vec(),
    ];
    let mut file = Vec::new();
    let mut non_blank = 0;
    for (i, line) in good.iter().enumerate() {
        file.extend_from_slice(line);
        file.push(b'\n');
        non_blank += 1;
        if i % 5 == 0 {
            let g = &garbage[i / 5 % garbage.len()];
            file.extend_from_slice(g);
            file.extend_from_slice(b"\n\n");
            non_blank += 1;
        }
    }
    // The expected matches: each good line alone, natively.
    let native = winrm_detect::Detector::from_json("{}").unwrap();
    let expected_matches = good.iter().filter(|l| native.scan(l).is_ok_and(|a| !a.is_empty())).count() as u64;
    assert!(expected_matches >= 15, "{expected_matches}");

    // A memory limit the 12 MB garbage line cannot fit: the guest traps on it, mid-batch.
    let runtime = Runtime::default_with_limits(HostLimits { memory_bytes: 8 << 20, ..HostLimits::default() }).unwrap();
    let mut wasm = Wasm::new(&runtime, r#"{"limits":{"max_event_bytes":67108864}}"#).unwrap().unwrap();
    let mut reader = BufReader::new(Cursor::new(file));
    let mut matched_lines = 0;
    let totals = scan::scan_lines(&mut wasm, "mixed", &mut reader, &mut |r| {
        if r.outcome.as_ref().is_ok_and(|a| !a.is_empty()) {
            matched_lines += 1;
        }
    })
    .unwrap();
    assert_eq!(totals.events, non_blank as u64, "events must equal the non-blank lines");
    assert_eq!(totals.matched, expected_matches);
    assert_eq!(matched_lines, expected_matches);
    assert!(totals.errors >= garbage.len() as u64);
    assert!(wasm.traps >= 1, "the oversized line should have made the guest trap");
}
