//! Reading events: one per line, from files or standard input, gzip recognised by its magic
//! bytes rather than the file name, lines kept as raw bytes so that invalid UTF-8 reaches
//! the detector (and is reported there) instead of stopping the read.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

/// The reader's buffer: whole lines in it go to the component as they lie (see
/// `scan::scan_lines`), so it holds a batch's worth of typical events.
const READ_BUFFER: usize = 256 << 10;

/// Opens `path` (`-` is standard input), decompressing gzip transparently.
pub fn open(path: &str) -> io::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = if path == "-" { Box::new(io::stdin()) } else { Box::new(File::open(Path::new(path))?) };
    sniff(BufReader::with_capacity(READ_BUFFER, raw))
}

/// Wraps a reader in a gzip decoder when its first bytes say gzip.
pub fn sniff<R: BufRead + 'static>(mut reader: R) -> io::Result<Box<dyn BufRead>> {
    let head = reader.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(READ_BUFFER, MultiGzDecoder::new(reader))))
    } else {
        Ok(Box::new(reader))
    }
}

/// Reads the next line without its line ending into `buf`; false at the end of input.
pub fn next_line(reader: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<bool> {
    buf.clear();
    append_line(reader, buf, 0)
}

/// Appends the next line to `buf`, whose first `keep` bytes are not part of it, and takes its
/// line ending off; false at the end of input.
///
/// `BufRead::read_until` would do, but it looks for the line feed with std's word-at-a-time
/// `memchr`, which was 6 % of a whole `scan` run in a profile; the memchr crate's is SIMD.
pub fn append_line(reader: &mut dyn BufRead, buf: &mut Vec<u8>, keep: usize) -> io::Result<bool> {
    let mut read_any = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            break;
        }
        read_any = true;
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(at) => (at + 1, true),
            None => (chunk.len(), false),
        };
        buf.extend_from_slice(&chunk[..take]);
        reader.consume(take);
        if done {
            break;
        }
    }
    if !read_any {
        return Ok(false);
    }
    while buf.len() > keep && matches!(buf.last(), Some(b'\n' | b'\r')) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(text: &[u8], capacity: usize) -> Vec<Vec<u8>> {
        let mut reader = BufReader::with_capacity(capacity, text);
        let (mut out, mut buf) = (Vec::new(), Vec::new());
        while next_line(&mut reader, &mut buf).unwrap() {
            out.push(buf.clone());
        }
        out
    }

    #[test]
    fn lines_across_buffer_refills_and_endings() {
        let text = b"first line\r\nsecond, longer than the buffer\n\nlast without a line feed";
        for capacity in [1, 3, 7, 64] {
            let lines = lines_of(text, capacity);
            let expected: [&[u8]; 4] =
                [b"first line", b"second, longer than the buffer", b"", b"last without a line feed"];
            assert_eq!(lines, expected, "buffer of {capacity}");
        }
        assert!(lines_of(b"", 8).is_empty());
        assert_eq!(lines_of(b"\n", 8), [b""]);
    }
}

/// What standard input is, for deciding what `scan` with no file reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StdinKind {
    /// A pipe, a redirected file or a socket: events may come from it.
    Data,
    Terminal,
    /// `/dev/null` or another character device that is not a terminal (what scripts, IDE
    /// tasks and service managers hand a program they pipe nothing into).
    NullDevice,
    Closed,
}

impl StdinKind {
    pub fn describe(self) -> &'static str {
        match self {
            StdinKind::Data => "a pipe or file",
            StdinKind::Terminal => "a terminal",
            StdinKind::NullDevice => "a device such as /dev/null",
            StdinKind::Closed => "closed",
        }
    }
}

pub fn stdin_kind() -> StdinKind {
    use std::io::IsTerminal;
    if io::stdin().is_terminal() {
        return StdinKind::Terminal;
    }
    // SAFETY: `stat` is plain old data, for which all zeroes is a valid value.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes into the struct we own; fd 0 needs no other condition.
    if unsafe { libc::fstat(0, &mut stat) } != 0 {
        return StdinKind::Closed;
    }
    match stat.st_mode & libc::S_IFMT {
        libc::S_IFCHR => StdinKind::NullDevice,
        _ => StdinKind::Data,
    }
}
