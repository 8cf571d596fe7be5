//! Scans a file of events natively, N times, and prints the rate: a quick way to profile
//! the library alone (`perf record cargo run --release --example scan_file -- FILE extended 5`).

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: scan_file FILE [parity|extended] [ROUNDS]");
    let mode = args.next().unwrap_or_else(|| "parity".into());
    let rounds: u32 = args.next().map_or(1, |r| r.parse().expect("ROUNDS is a number"));
    let text = std::fs::read(&path).expect("readable file");
    let events: Vec<&[u8]> = text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let detector = winrm_detect::Detector::from_json(&format!(r#"{{"mode":"{mode}"}}"#)).expect("config");
    let start = Instant::now();
    let mut matched = 0;
    for _ in 0..rounds {
        for e in &events {
            matched += usize::from(detector.scan(e).is_ok_and(|a| !a.is_empty()));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let n = events.len() as f64 * f64::from(rounds);
    println!("{mode}: {n} events in {secs:.2} s: {:.0} events/s, {matched} matched", n / secs);
}
