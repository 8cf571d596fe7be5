//! Reading events: one per line, from files or standard input, gzip recognised by its magic
//! bytes rather than the file name, lines kept as raw bytes so that invalid UTF-8 reaches
//! the detector (and is reported there) instead of stopping the read.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

/// Opens `path` (`-` is standard input), decompressing gzip transparently.
pub fn open(path: &str) -> io::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = if path == "-" { Box::new(io::stdin()) } else { Box::new(File::open(Path::new(path))?) };
    sniff(BufReader::with_capacity(1 << 16, raw))
}

/// Wraps a reader in a gzip decoder when its first bytes say gzip.
pub fn sniff<R: BufRead + 'static>(mut reader: R) -> io::Result<Box<dyn BufRead>> {
    let head = reader.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(reader))))
    } else {
        Ok(Box::new(reader))
    }
}

/// Reads the next line without its line ending into `buf`; false at the end of input.
pub fn next_line(reader: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<bool> {
    buf.clear();
    if reader.read_until(b'\n', buf)? == 0 {
        return Ok(false);
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    Ok(true)
}

/// Lines with nothing but white space (or a lone byte-order mark, as some exporters write
/// at the top of an empty file) are not events and are not counted.
pub fn is_blank(line: &[u8]) -> bool {
    let line = line.strip_prefix(b"\xef\xbb\xbf".as_slice()).unwrap_or(line);
    line.iter().all(u8::is_ascii_whitespace)
}
