//! A batch of events as `scan-lines` takes them, borrowed from the reader's buffer where the
//! events lie whole and copied only where they do not.

/// A batch of events none of which holds a line feed, kept as `scan-lines` takes them: one
/// buffer, each event ended by `\n`. The runner hands over whole lines where they lie in the
/// reader's buffer ([`Lines::whole_lines`]) and copies only the rest, so a batch reaches the
/// component without a buffer per event or a copy to join them (the two were 15 % of a
/// parity `scan` in a profile).
#[derive(Default)]
pub struct Lines<'a> {
    text: std::borrow::Cow<'a, [u8]>,
    /// Where each event ends in `text` (its `\n`).
    ends: Vec<usize>,
}

impl<'a> Lines<'a> {
    /// `events` as lines (one copy), or `None` when one of them holds a line feed.
    pub fn from_events<E: AsRef<[u8]>>(events: &[E]) -> Option<Lines<'static>> {
        let mut text = Vec::with_capacity(events.iter().map(|e| e.as_ref().len() + 1).sum());
        let mut ends = Vec::with_capacity(events.len());
        for e in events.iter().map(AsRef::as_ref) {
            if memchr::memchr(b'\n', e).is_some() {
                return None;
            }
            text.extend_from_slice(e);
            ends.push(text.len());
            text.push(b'\n');
        }
        Some(Lines { text: text.into(), ends })
    }

    /// The whole lines `chunk` starts with (at most `max`), borrowed as they lie, and how
    /// many bytes they take. It stops before a line that would need changing or skipping (a
    /// CR before its line feed; a line that starts with white space or a byte-order mark,
    /// which may be blank) and before a line not yet whole; `None` when the first is one of
    /// those: the caller reads it with [`Lines::read_line`].
    pub fn whole_lines(chunk: &'a [u8], max: usize) -> Option<(Lines<'a>, usize)> {
        let (mut ends, mut start) = (Vec::new(), 0);
        for end in memchr::memchr_iter(b'\n', chunk) {
            let line = &chunk[start..end];
            let plain = match (line.first(), line.last()) {
                (Some(&first), Some(&last)) => !first.is_ascii_whitespace() && first != 0xef && last != b'\r',
                _ => false,
            };
            if !plain {
                break;
            }
            ends.push(end);
            start = end + 1;
            if ends.len() == max {
                break;
            }
        }
        (!ends.is_empty()).then(|| (Lines { text: std::borrow::Cow::Borrowed(&chunk[..start]), ends }, start))
    }

    /// Appends the next line of `reader`, without its line ending, as an event unless it is
    /// blank (see [`crate::input::is_blank`]). `None` at the end of input, else whether an
    /// event was added.
    pub fn read_line(&mut self, reader: &mut dyn std::io::BufRead) -> std::io::Result<Option<bool>> {
        let text = self.text.to_mut();
        let start = text.len();
        if !crate::input::append_line(reader, text, start)? {
            return Ok(None);
        }
        if crate::input::is_blank(&text[start..]) {
            text.truncate(start);
            return Ok(Some(false));
        }
        self.ends.push(text.len());
        text.push(b'\n');
        Ok(Some(true))
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Every event, each followed by `\n`.
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> {
        self.ends.iter().enumerate().map(|(i, &end)| {
            let start = if i == 0 { 0 } else { self.ends[i - 1] + 1 };
            &self.text[start..end]
        })
    }

    pub fn clear(&mut self) {
        self.text.to_mut().clear();
        self.ends.clear();
    }
}
