//! What the runner's fuzz targets (`fuzz/fuzz_targets/component.rs`, `serve_body.rs`) assert
//! of any input, kept in the library so that `cargo test` replays their committed seeds
//! through the same checks (`host-test/tests/fuzz_seeds.rs`). Each function panics when its
//! property does not hold. The library's own targets are `winrm_detect::fuzz_properties`.

use std::sync::LazyLock;

use winrm_detect::{Detector, Output};

use crate::backend::{Backend, Native, NativeLines, Outcome, Wasm};
use crate::component::Runtime;
use crate::serve::body::{self, BodyError};
use crate::serve::deliver::{self, Emit, ForwardFormat};
use crate::serve::otlp;
use crate::serve::pool::Batch;

/// The component, compiled once per process (a fuzz run calls the properties millions of times).
static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| Runtime::load_default().expect("the built-in component loads"));

const MODES: [&str; 2] = [r#"{"mode":"parity"}"#, r#"{"mode":"extended"}"#];

/// The component with `config`, one event per call or batched as the runner batches.
fn component(config: &str, per_event: bool) -> Wasm {
    let mut wasm = Wasm::new(&RUNTIME, config).expect("an instance").expect("a valid configuration");
    wasm.per_event = per_event;
    wasm
}

fn native(config: &str) -> Detector {
    Detector::from_json(config).expect("a valid configuration")
}

/// Asserts that `got` is what the library said, and that the component never trapped.
fn agree(host: &str, got: &[Outcome], wasm: Option<&Wasm>, want: &[Outcome]) {
    assert_eq!(wasm.map_or(0, |w| w.traps), 0, "{host}: the guest trapped");
    assert_eq!(got.len(), want.len(), "{host}: one outcome per event");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g, w, "{host}, event {i}");
    }
}

/// Any sequence of events (separated by NUL), in both modes: the component called once per
/// event, the component called with the batch, and the library's batch entry point all say
/// what the library says event by event, state carried across events (multi-part script
/// blocks) included; no call traps.
pub fn component_agrees(data: &[u8]) {
    let events: Vec<Vec<u8>> = data.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
    for config in MODES {
        let want = Native(native(config)).scan_batch(&events);
        agree("the library in batches", &NativeLines(native(config)).scan_batch(&events), None, &want);
        for per_event in [true, false] {
            let mut wasm = component(config, per_event);
            let got = wasm.scan_batch(&events);
            agree(
                if per_event { "the component per event" } else { "the component in batches" },
                &got,
                Some(&wasm),
                &want,
            );
        }
    }
}

/// Any bytes as what a shipper posts to `serve`: the first byte says how it arrives (plain,
/// gzip-compressed here, claimed gzip but raw, or an encoding `serve` does not read) and the
/// size limit, or, with its top bit set, that it is OTLP (see [`serve_otlp`]); the rest is the
/// body. Decoding keeps the limit and gives back exactly what was
/// compressed; the events are pieces of the body, in order, none blank; scanning them as
/// `serve`'s workers do agrees with the library; and every framing of what `serve` forwards
/// is what the next hop expects: one JSON object per line (NDJSON, Splunk HEC's `{"event"}`)
/// or one JSON array, one record per event handed on.
pub fn serve_body(data: &[u8]) {
    let Some((&how, body)) = data.split_first() else { return };
    if how & 0x80 != 0 {
        let encoding = if how & 0x40 == 0 { otlp::Encoding::Protobuf } else { otlp::Encoding::Json };
        return serve_otlp(body, encoding);
    }
    let limit = [64, 1024, 1 << 20][usize::from(how % 3)];
    let text = match (how / 3) % 4 {
        0 => body::decode(None, body.to_vec(), limit).expect("a plain body is taken as it is"),
        1 => {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(body).unwrap();
            match body::decode(Some("gzip"), gz.finish().unwrap(), limit) {
                Ok(text) => {
                    assert_eq!(text, body, "gzip gives back what was compressed");
                    text
                }
                Err(BodyError::TooLarge(_)) => return assert!(body.len() > limit, "refused under the limit"),
                Err(e) => panic!("a whole gzip stream refused: {e:?}"),
            }
        }
        2 => match body::decode(Some(" GZIP"), body.to_vec(), limit) {
            Ok(text) => {
                assert!(text.len() <= limit, "decoded past the limit");
                text
            }
            Err(_) => return,
        },
        _ => {
            return assert!(matches!(
                body::decode(Some("br"), body.to_vec(), limit),
                Err(BodyError::UnsupportedEncoding(_))
            ));
        }
    };

    let events = body::events(&text);
    let mut after = 0;
    for e in &events {
        let at = e.as_ptr() as usize - text.as_ptr() as usize;
        assert!(at >= after && at + e.len() <= text.len(), "an event that is not a later piece of the body");
        assert!(!crate::input::is_blank(e), "a blank event");
        after = at + e.len();
    }
    let batch = Batch::new(&events);
    assert!(batch.iter().eq(events.iter().copied()), "the batch holds the events as they came");

    let config = MODES[1];
    let want = Native(native(config)).scan_batch(&events.iter().map(|e| e.to_vec()).collect::<Vec<_>>());
    let mut wasm = component(config, false);
    let got = match &batch {
        Batch::Lines(lines) => wasm.scan_lines(lines),
        Batch::Events(events) => wasm.scan_batch(events),
    };
    agree("serve's worker", &got, Some(&wasm), &want);

    for emit in [Emit::All, Emit::Matches] {
        let records: Vec<Vec<u8>> =
            events.iter().zip(&got).filter_map(|(e, o)| deliver::record(e, o, emit, Output::Native)).collect();
        if emit == Emit::All {
            assert_eq!(records.len(), events.len(), "every event handed on");
        }
        for format in [ForwardFormat::Ndjson, ForwardFormat::JsonArray, ForwardFormat::SplunkHec] {
            let framed = deliver::frame(&records, format);
            let objects: Vec<serde_json::Value> = match format {
                ForwardFormat::JsonArray => serde_json::from_slice(&framed).expect("a JSON array"),
                _ => framed
                    .split(|&b| b == b'\n')
                    .filter(|line| !line.is_empty())
                    .map(|line| serde_json::from_slice(line).expect("one JSON value per line"))
                    .collect(),
            };
            assert_eq!(objects.len(), records.len(), "{format:?}: one record per event handed on");
            for o in &objects {
                let record = if format == ForwardFormat::SplunkHec { &o["event"] } else { o };
                assert!(record.is_object(), "{format:?}: a record that is not a JSON object");
            }
        }
    }
}

/// Any bytes as an OTLP body (`POST /v1/logs`) in `encoding`: refused with a reason, or read
/// into records whose bodies, scanned as `serve`'s workers scan them, agree with the library;
/// handed on (`--forward-format otlp`) with every record kept or left out as `emit` says, in
/// order, bodies untouched, in a message that encodes and decodes back to itself; and the
/// same events handed on from another framing, one record each.
fn serve_otlp(body: &[u8], encoding: otlp::Encoding) {
    use prost::Message;
    let request = match otlp::decode(body, encoding) {
        Ok(request) => request,
        Err(why) => return assert!(!why.is_empty(), "a refusal without a reason"),
    };
    let events: Vec<Vec<u8>> = otlp::records(&request).map(otlp::event).collect();
    let config = MODES[1];
    let want = Native(native(config)).scan_batch(&events);
    let mut wasm = component(config, false);
    let got = wasm.scan_batch(&events);
    agree("serve's worker, OTLP", &got, Some(&wasm), &want);
    for emit in [Emit::All, Emit::Matches] {
        let (out, kept) = otlp::annotate(request.clone(), &got, emit, Output::Native);
        let bodies: Vec<_> = otlp::records(&out).map(|r| r.body.clone()).collect();
        assert_eq!(bodies.len(), kept, "the count of records handed on");
        let expected: Vec<_> = otlp::records(&request)
            .zip(&got)
            .filter(|(_, o)| emit == Emit::All || !matches!(o, Ok(list) if list.is_empty()))
            .map(|(r, _)| r.body.clone())
            .collect();
        assert_eq!(bodies, expected, "{emit:?}: the records handed on, bodies as they came");
        let again =
            opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest::decode(&out.encode_to_vec()[..])
                .expect("what serve sends decodes");
        assert!(again == out || has_nan(&out), "{emit:?}: the message changed on the wire");
        let refs: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
        let (from_lines, n) = otlp::from_events(refs.into_iter(), &got, emit, Output::Native);
        assert_eq!((otlp::records(&from_lines).count(), n), (kept, kept), "{emit:?}: one record per event handed on");
    }
}

/// Whether a message holds a NaN (which equals nothing, itself included).
fn has_nan(request: &opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest) -> bool {
    format!("{request:?}").contains("NaN")
}
