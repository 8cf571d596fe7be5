//! `cargo bench -p host-test`: events per second and MB/s on the corpus bulk file (65,145
//! Sysmon events), native library next to the component, one call per event and batched,
//! in both modes. The same configurations `winrm-detect bench FILE` measures.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use winrm_detect_runner::bench::{backend, batches, configurations, run};
use winrm_detect_runner::component::Runtime;
use winrm_detect_runner::input;

fn bulk_events() -> Option<Vec<Vec<u8>>> {
    // `../shared` beside the repository, as CI lays it out.
    let path = host_test::corpus_bulk("jsonl.gz");
    let mut reader = input::open(path.to_str()?).ok()?;
    let mut events = Vec::new();
    let mut buf = Vec::new();
    while input::next_line(&mut *reader, &mut buf).ok()? {
        if !input::is_blank(&buf) {
            events.push(buf.clone());
        }
    }
    Some(events)
}

fn throughput(c: &mut Criterion) {
    let Some(events) = bulk_events() else {
        eprintln!("no corpus bulk file beside the repository: nothing to measure");
        return;
    };
    let bytes: u64 = events.iter().map(|e| e.len() as u64).sum();
    let batches = batches(&events);
    let runtime = Runtime::load_default().expect("the component loads");
    let mut group = c.benchmark_group("bulk");
    group.sample_size(10);
    group.throughput(Throughput::ElementsAndBytes { elements: events.len() as u64, bytes });
    for (name, mode, kind) in configurations() {
        let mut b = backend(&runtime, kind, mode, &serde_json::json!({})).expect("backend");
        group.bench_function(name, |bench| bench.iter(|| run(b.as_mut(), &batches, 1)));
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
