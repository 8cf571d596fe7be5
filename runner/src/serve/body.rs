//! What a shipper posts, turned into events: newline-delimited JSON (Vector's `http` sink with
//! `newline_delimited` framing, Fluent Bit's `http` output with `json_lines`, Logstash's
//! `json_batch`... with one event per line), a JSON array of events (Fluent Bit's `json`),
//! or one event; gzip bodies; Windows event XML as event text (one per line).

use std::io::Read;

use serde_json::value::RawValue;

/// Why a body was refused, with the status it earns.
#[derive(Debug)]
pub enum BodyError {
    /// Over the size limit, before or after decompression: 413.
    TooLarge(usize),
    /// Not gzip although it said so, or an encoding we do not read: 400 / 415.
    BadEncoding(String),
    UnsupportedEncoding(String),
}

/// The body as sent, decompressed when `Content-Encoding` says gzip; never more than `limit`
/// bytes after decompression (a small gzip bomb stays small).
pub fn decode(encoding: Option<&str>, body: Vec<u8>, limit: usize) -> Result<Vec<u8>, BodyError> {
    match encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "identity") => Ok(body),
        Some("gzip" | "x-gzip") => {
            let mut out = Vec::new();
            let read = flate2::read::MultiGzDecoder::new(&body[..])
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| BodyError::BadEncoding(format!("gzip body: {e}")))?;
            if read > limit {
                return Err(BodyError::TooLarge(limit));
            }
            Ok(out)
        }
        Some(other) => Err(BodyError::UnsupportedEncoding(other.to_string())),
    }
}

/// The events of a body, as the text of each: the elements of a JSON array, the one JSON value
/// a body holds (even spread over several lines), or else each non-blank line.
pub fn events(body: &[u8]) -> Vec<&[u8]> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Vec::new();
    }
    if trimmed.starts_with(b"[")
        && let Ok(items) = serde_json::from_slice::<Vec<&RawValue>>(trimmed)
    {
        return items.into_iter().map(|v| v.get().as_bytes()).collect();
    }
    if trimmed.starts_with(b"{")
        && memchr::memchr(b'\n', trimmed).is_some()
        && serde_json::from_slice::<&RawValue>(trimmed).is_ok()
    {
        return vec![trimmed];
    }
    trimmed
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !crate::input::is_blank(l))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_framing_a_shipper_uses() {
        assert_eq!(events(b"{\"a\":1}\n{\"b\":2}\r\n\n"), vec![&b"{\"a\":1}"[..], b"{\"b\":2}"]);
        assert_eq!(events(b"[{\"a\":1}, {\"b\":[2,3]}]"), vec![&b"{\"a\":1}"[..], b"{\"b\":[2,3]}"]);
        assert_eq!(events(b"{\n  \"a\": 1\n}\n"), vec![&b"{\n  \"a\": 1\n}"[..]]);
        assert_eq!(events(b"<Event>a</Event>\n<Event>b</Event>"), vec![&b"<Event>a</Event>"[..], b"<Event>b</Event>"]);
        assert!(events(b" \n ").is_empty());
        // A broken line is still an event (it earns its own error); a broken array is lines.
        assert_eq!(events(b"{\"a\":\n{\"b\":2}"), vec![&b"{\"a\":"[..], b"{\"b\":2}"]);
    }

    #[test]
    fn gzip_is_read_and_bounded() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&vec![b'a'; 10_000]).unwrap();
        let packed = gz.finish().unwrap();
        assert_eq!(decode(Some("gzip"), packed.clone(), 10_000).unwrap().len(), 10_000);
        assert!(matches!(decode(Some("gzip"), packed, 9_999), Err(BodyError::TooLarge(_))));
        assert!(matches!(decode(Some("gzip"), b"not gzip".to_vec(), 100), Err(BodyError::BadEncoding(_))));
        assert!(matches!(decode(Some("br"), b"x".to_vec(), 100), Err(BodyError::UnsupportedEncoding(_))));
        assert_eq!(decode(None, b"x".to_vec(), 100).unwrap(), b"x");
    }
}
