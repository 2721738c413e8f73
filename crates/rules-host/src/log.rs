//! The log lines a rule writes through the `log` import, bounded in bytes and line length.

/// Collects lines up to a byte budget; lines are cut at a character count, as Auth0 keeps
/// 256 characters per `console.log`.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogSink {
    pub(crate) lines: Vec<String>,
    pub(crate) truncated: bool,
    bytes: usize,
    max_bytes: usize,
    max_line_chars: usize,
}

impl LogSink {
    pub(crate) fn new(max_bytes: usize, max_line_chars: usize) -> LogSink {
        LogSink {
            max_bytes,
            max_line_chars,
            ..LogSink::default()
        }
    }

    /// Adds one line. Reads at most 4 bytes per kept character, so a rule passing a 16 MiB
    /// slice costs the host no more than a short one.
    pub(crate) fn push(&mut self, raw: &[u8]) {
        let keep = raw.len().min(self.max_line_chars.saturating_mul(4));
        let text = String::from_utf8_lossy(raw.get(..keep).unwrap_or(raw));
        let mut line: String = text.chars().take(self.max_line_chars).collect();
        if keep < raw.len() || line.len() < text.len() {
            self.truncated = true;
        }
        let room = self.max_bytes.saturating_sub(self.bytes);
        if line.len() > room {
            self.truncated = true;
            let mut cut = room;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
        }
        if !line.is_empty() {
            self.bytes += line.len();
            self.lines.push(line);
        }
    }
}
