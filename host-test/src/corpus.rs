//! The corpus of real Windows events in `../shared/corpus` (recorded by third parties; see its
//! README): where it is, its files, and the events of each file in whatever form the file holds
//! them (lines, gzip, tar or zip of lines, a JSON array or document). Under CI a missing corpus
//! fails the test that asks for it instead of skipping it.

use std::fs;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use winrm_detect_runner::input;

/// The corpus directory, or `None` (with a note) when it is missing outside CI.
pub fn dir() -> Option<PathBuf> {
    let dir = crate::workspace_root().join("../shared/corpus");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the corpus is missing at {} and CI=true: it must be there", dir.display());
    }
    eprintln!("skipping: no corpus at {}", dir.display());
    None
}

/// Every file under `dir`, in name order.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

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

/// Lines the corpus README calls malformed (a raw U+000F in the XML twin): an error there
/// is allowed, not required.
pub const MALFORMED: [(&str, u64); 3] = [
    ("sbousseaden_EVTX-ATTACK-SAMPLES/Lateral_Movement/converted/LM_ScheduledTask_ATSVC_target_host.xml", 28),
    ("sbousseaden_EVTX-ATTACK-SAMPLES/Lateral_Movement/converted/LM_ScheduledTask_ATSVC_target_host.xml", 29),
    ("sbousseaden_EVTX-ATTACK-SAMPLES/Lateral_Movement/converted/LM_ScheduledTask_ATSVC_target_host.xml", 30),
];

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
pub fn events_of(path: &Path) -> Option<Vec<(u64, Vec<u8>)>> {
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
