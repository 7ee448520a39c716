//! A container's log: following it from the engine, and the bounded buffer the
//! container view draws, searches and saves.
//!
//! Docker sends each log message as one frame (`docker logs -t` style: an RFC 3339
//! timestamp, a space, the payload). The json-file driver splits a line longer than
//! 16 KiB into several messages, each with its own timestamp, and only the last ends
//! in a newline; so [`follow`] yields one [`LogChunk`] per message with its timestamp
//! parsed off, and [`LogBuffer`] joins chunks into lines per stream. Bytes stay bytes
//! until a line is complete, so a UTF-8 character split between two messages is not
//! mangled; the line is then decoded (invalid UTF-8 becomes U+FFFD) and sanitized.
//!
//! Pausing is the view's business, and a paused view keeps buffering: the stream keeps
//! being read and pushed, and the view holds its place by [`LogLine::seq`]. Not reading
//! would hold the engine's writer and the SSH channel's window open for as long as
//! someone looks at a frozen screen, and resuming would then replay a backlog instead of
//! showing what is happening now. The price is that a long pause on a busy container can
//! push the lines being looked at out of the ring; [`LogBuffer::first_seq`] tells the
//! view when that happened.

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::ops::Range;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::pin::Pin;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::errors::Error;
use bollard::query_parameters::LogsOptions;
use bytes::Bytes;
use futures_util::future::Either;
use futures_util::{Stream, StreamExt, stream};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::sanitize;

/// Lines kept by [`LogBuffer::default`]: a screenful many times over, and enough to
/// scroll back through the minutes before an incident.
pub const DEFAULT_MAX_LINES: usize = 10_000;

/// Bytes of text kept by [`LogBuffer::default`], so 10,000 long lines cannot take
/// hundreds of megabytes.
pub const DEFAULT_MAX_BYTES: usize = 8 * 1024 * 1024;

/// The longest line kept, in bytes as received. Docker's json-file driver stores
/// longer lines as 16 KiB pieces anyway; beyond this nobody reads a line on a
/// terminal, and an unbounded one (a binary blob without newlines) must not grow the
/// buffer without limit.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// Longest timestamp prefix Docker writes (`2006-01-02T15:04:05.000000000+07:00`);
/// a space further than this is not the end of a timestamp.
const MAX_TIMESTAMP_LEN: usize = 40;

/// Which of the container's output streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStream {
    Stdout,
    Stderr,
}

impl LogStream {
    pub fn as_str(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        }
    }

    fn index(self) -> usize {
        match self {
            LogStream::Stdout => 0,
            LogStream::Stderr => 1,
        }
    }
}

/// One message as the engine sent it: not yet a line (it may be part of one, or hold
/// several), and not yet sanitized — that happens when [`LogBuffer`] completes a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    /// Docker's timestamp for the message, when it carried one.
    pub at: Option<OffsetDateTime>,
    pub stream: LogStream,
    pub bytes: Bytes,
}

impl LogChunk {
    /// Splits Docker's `timestamps=true` prefix off one frame. A frame without a
    /// parsable prefix (a TTY container's continuation line, an engine that ignored
    /// the option) keeps all its bytes and has no time.
    pub fn from_output(output: LogOutput) -> LogChunk {
        let (stream, bytes) = match output {
            LogOutput::StdErr { message } => (LogStream::Stderr, message),
            // A TTY container's output is one stream (`Console`); stdin is never
            // requested. Both are shown as stdout.
            LogOutput::StdOut { message }
            | LogOutput::Console { message }
            | LogOutput::StdIn { message } => (LogStream::Stdout, message),
        };
        let (at, bytes) = split_timestamp(bytes);
        LogChunk { at, stream, bytes }
    }
}

fn split_timestamp(bytes: Bytes) -> (Option<OffsetDateTime>, Bytes) {
    let head = &bytes[..bytes.len().min(MAX_TIMESTAMP_LEN + 1)];
    let Some(space) = head.iter().position(|&b| b == b' ') else {
        return (None, bytes);
    };
    let parsed = std::str::from_utf8(&head[..space])
        .ok()
        .and_then(|text| OffsetDateTime::parse(text, &Rfc3339).ok());
    match parsed {
        Some(at) => (Some(at), bytes.slice(space + 1..)),
        None => (None, bytes),
    }
}

/// Follows a container's stdout and stderr: the last `tail` lines, then new output as
/// it is written (`since`: only messages at or after this Unix time, in seconds).
///
/// The stream ends when the container stops or on the first error; the consumer
/// should then [`LogBuffer::flush_partials`]. Docker (seen with 20.10) may close a
/// followed log before the last message of a stopping container is delivered — the
/// final words of a crashing process, or a last line without a newline, which the
/// engine only writes at exit. So when the followed stream ends, one more plain read
/// from the second of the newest message delivered picks up what came after it
/// (skipping what was already delivered, by timestamp), and only then does this end.
///
/// Run it in the host's actor and send the chunks to the UI as messages: nothing here
/// touches the terminal. It holds its own connection (an SSH channel, for a remote
/// host) while read, so other requests to the same engine are not held up behind it.
pub fn follow(
    docker: &Docker,
    container_id: &str,
    tail: usize,
    since: Option<i64>,
) -> impl Stream<Item = Result<LogChunk, Error>> + Send + Unpin + use<> {
    // bollard's option is an i32 (the API takes seconds): fine until 2038, and a
    // request for a time it cannot express is refused rather than silently widened.
    let since = match since.map(i32::try_from).transpose() {
        Ok(since) => since.unwrap_or(0).max(0),
        Err(_) => {
            let err = Error::IOError {
                err: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("log start time {since:?} is outside what the Docker API accepts"),
                ),
            };
            return Either::Left(stream::iter([Err(err)]));
        }
    };
    let follower = Follower {
        phase: Phase::Live(open_logs(
            docker,
            container_id,
            true,
            since,
            tail.to_string(),
        )),
        docker: docker.clone(),
        container_id: container_id.to_owned(),
        newest: None,
    };
    Either::Right(Box::pin(stream::unfold(
        follower,
        |mut follower| async move {
            let item = follower.next_chunk().await?;
            Some((item, follower))
        },
    )))
}

type OutputStream = Pin<Box<dyn Stream<Item = Result<LogOutput, Error>> + Send>>;

fn open_logs(docker: &Docker, id: &str, follow: bool, since: i32, tail: String) -> OutputStream {
    let options = LogsOptions {
        follow,
        stdout: true,
        stderr: true,
        since,
        until: 0,
        timestamps: true,
        tail,
    };
    Box::pin(docker.logs(id, Some(options)))
}

struct Follower {
    docker: Docker,
    container_id: String,
    phase: Phase,
    /// Timestamp of the newest message delivered.
    newest: Option<OffsetDateTime>,
}

enum Phase {
    Live(OutputStream),
    /// The followed stream ended: reading what it may have missed.
    CatchUp(OutputStream),
    Done,
}

impl Follower {
    async fn next_chunk(&mut self) -> Option<Result<LogChunk, Error>> {
        loop {
            let (catching_up, logs) = match &mut self.phase {
                Phase::Live(logs) => (false, logs),
                Phase::CatchUp(logs) => (true, logs),
                Phase::Done => return None,
            };
            match logs.next().await {
                Some(Ok(output)) => {
                    let chunk = LogChunk::from_output(output);
                    if catching_up && !newer(chunk.at, self.newest) {
                        continue;
                    }
                    if chunk.at > self.newest {
                        self.newest = chunk.at;
                    }
                    return Some(Ok(chunk));
                }
                Some(Err(e)) if catching_up => {
                    // Best effort after a stream that ended normally: the container
                    // may be gone already.
                    tracing::debug!("reading the end of a stopped container's log: {e}");
                    self.phase = Phase::Done;
                }
                Some(Err(e)) => {
                    self.phase = Phase::Done;
                    return Some(Err(e));
                }
                None if catching_up => self.phase = Phase::Done,
                None => {
                    let since = self
                        .newest
                        .and_then(|at| i32::try_from(at.unix_timestamp()).ok());
                    self.phase = match since {
                        Some(since) => Phase::CatchUp(open_logs(
                            &self.docker,
                            &self.container_id,
                            false,
                            since,
                            "all".to_owned(),
                        )),
                        // Nothing delivered had a time: nothing to resume from.
                        None => Phase::Done,
                    };
                }
            }
        }
    }
}

/// Whether a message read again after the live stream ended is one it did not deliver.
fn newer(at: Option<OffsetDateTime>, newest: Option<OffsetDateTime>) -> bool {
    match (at, newest) {
        (Some(at), Some(newest)) => at > newest,
        // Without a time it cannot be told apart from one already delivered.
        _ => false,
    }
}

/// One complete, sanitized line: safe to draw as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Position in the whole log as this buffer saw it, counting dropped lines: a
    /// paused or scrolled view anchors on it, since indices shift as old lines go.
    pub seq: u64,
    /// Docker's timestamp of the message the line started in.
    pub at: Option<OffsetDateTime>,
    pub stream: LogStream,
    /// One line, sanitized: no control characters, no escape sequences.
    pub text: String,
    /// Bytes of the line cut off beyond [`MAX_LINE_BYTES`]; 0 for a whole line.
    pub truncated: u64,
}

impl LogLine {
    pub fn is_truncated(&self) -> bool {
        self.truncated > 0
    }

    /// The line as shown or saved: `TIMESTAMP TEXT` with `with_time` (RFC 3339 UTC,
    /// `-` when the engine gave none), and a note when it was cut.
    pub fn display(&self, with_time: bool) -> String {
        let mut out = String::with_capacity(self.text.len() + 40);
        if with_time {
            match self.at.and_then(crate::util::time::try_rfc3339) {
                Some(at) => out.push_str(&at),
                None => out.push('-'),
            }
            out.push(' ');
        }
        out.push_str(&self.text);
        if self.is_truncated() {
            out.push_str(&format!(" [truncated: {} more bytes]", self.truncated));
        }
        out
    }
}

/// A line still waiting for its newline.
#[derive(Debug, Default)]
struct Partial {
    at: Option<OffsetDateTime>,
    bytes: Vec<u8>,
    truncated: u64,
}

/// The last lines of a container's log, bounded in lines and in bytes: the oldest go
/// first, and how many went is counted.
#[derive(Debug)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    max_lines: usize,
    max_bytes: usize,
    bytes: usize,
    dropped: u64,
    next_seq: u64,
    /// Per stream: stdout and stderr interleave whole messages, not bytes, so each
    /// keeps its own unfinished line.
    partial: [Option<Partial>; 2],
}

impl Default for LogBuffer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINES, DEFAULT_MAX_BYTES)
    }
}

impl LogBuffer {
    /// A buffer keeping at most `max_lines` lines and `max_bytes` bytes of text (at
    /// least one line is always kept, however long).
    pub fn new(max_lines: usize, max_bytes: usize) -> Self {
        Self {
            lines: VecDeque::new(),
            max_lines: max_lines.max(1),
            max_bytes,
            bytes: 0,
            dropped: 0,
            next_seq: 0,
            partial: [None, None],
        }
    }

    /// Adds a chunk from [`follow`].
    pub fn push(&mut self, chunk: &LogChunk) {
        self.push_chunk(&chunk.bytes, chunk.stream, chunk.at);
    }

    /// Adds raw output of `stream`: every newline completes a line (stamped with the
    /// time of the chunk it started in); what follows the last newline is held until
    /// its newline arrives or [`Self::flush_partials`] is called.
    pub fn push_chunk(&mut self, bytes: &[u8], stream: LogStream, at: Option<OffsetDateTime>) {
        let mut rest = bytes;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            self.append(stream, at, &rest[..newline]);
            self.finish(stream);
            rest = &rest[newline + 1..];
        }
        if !rest.is_empty() {
            self.append(stream, at, rest);
        }
    }

    /// Completes held partial lines: call it when the stream has been quiet for a
    /// moment (a prompt without a newline, a progress line) or has ended.
    pub fn flush_partials(&mut self) {
        for stream in [LogStream::Stdout, LogStream::Stderr] {
            self.finish(stream);
        }
    }

    /// Whether a line is held waiting for its newline.
    pub fn has_partial(&self) -> bool {
        self.partial.iter().any(Option::is_some)
    }

    /// The held partial lines, rendered as lines would be (not yet part of the
    /// buffer; `seq` is where they would land).
    pub fn partials(&self) -> impl Iterator<Item = LogLine> + '_ {
        [LogStream::Stdout, LogStream::Stderr]
            .into_iter()
            .filter_map(|stream| {
                let partial = self.partial[stream.index()].as_ref()?;
                Some(render(self.next_seq, stream, partial))
            })
    }

    /// Complete lines, oldest first.
    pub fn lines(&self) -> std::collections::vec_deque::Iter<'_, LogLine> {
        self.lines.iter()
    }

    pub fn get(&self, index: usize) -> Option<&LogLine> {
        self.lines.get(index)
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Lines pushed out by newer ones since the buffer was created.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// `seq` of the oldest line still held (equals [`Self::dropped`]).
    pub fn first_seq(&self) -> u64 {
        self.dropped
    }

    /// Where the line numbered `seq` sits now; `None` once it was dropped (or before
    /// it arrived).
    pub fn index_of_seq(&self, seq: u64) -> Option<usize> {
        let index = usize::try_from(seq.checked_sub(self.first_seq())?).ok()?;
        (index < self.lines.len()).then_some(index)
    }

    /// Bytes of text held in complete lines.
    pub fn text_bytes(&self) -> usize {
        self.bytes
    }

    /// Every line containing `query`, with the byte ranges of each match in its
    /// `text` (for highlighting), oldest first. Indices are positions in
    /// [`Self::lines`], valid until the next push. Case-insensitive search folds with
    /// Unicode lowercase, and ranges always cover whole characters of the line.
    pub fn search(&self, query: &str, case_insensitive: bool) -> Vec<(usize, Vec<Range<usize>>)> {
        if query.is_empty() {
            return Vec::new();
        }
        let folded_query = case_insensitive.then(|| fold(query));
        self.lines
            .iter()
            .enumerate()
            .filter_map(|(index, line)| {
                let ranges = match &folded_query {
                    Some(q) => find_folded(&line.text, q),
                    None => find_exact(&line.text, query),
                };
                (!ranges.is_empty()).then_some((index, ranges))
            })
            .collect()
    }

    /// Writes the lines (and any held partial line) to a new file at `path`, one per
    /// line as `TIMESTAMP STREAM TEXT` (`-` for a line without a time), with mode
    /// 0600 since logs often carry what should not be world-readable. An existing file
    /// is an `AlreadyExists` error unless `overwrite`. Returns the lines written.
    pub fn save(&self, path: &Path, overwrite: bool) -> io::Result<usize> {
        let mut options = OpenOptions::new();
        options.write(true).mode(0o600);
        if overwrite {
            options.create(true).truncate(true);
        } else {
            options.create_new(true);
        }
        let mut out = BufWriter::new(options.open(path)?);
        let mut written = 0;
        for line in self.lines.iter().cloned().chain(self.partials()) {
            let shown = line.display(true);
            // The stream goes after the time: `TIMESTAMP STREAM TEXT`.
            let (at, text) = shown.split_once(' ').unwrap_or((&shown, ""));
            writeln!(out, "{at} {} {text}", line.stream.as_str())?;
            written += 1;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(written)
    }

    fn append(&mut self, stream: LogStream, at: Option<OffsetDateTime>, bytes: &[u8]) {
        let partial = self.partial[stream.index()].get_or_insert_with(|| Partial {
            at,
            ..Partial::default()
        });
        let room = MAX_LINE_BYTES.saturating_sub(partial.bytes.len());
        let take = room.min(bytes.len());
        partial.bytes.extend_from_slice(&bytes[..take]);
        partial.truncated += (bytes.len() - take) as u64;
    }

    fn finish(&mut self, stream: LogStream) {
        let Some(partial) = self.partial[stream.index()].take() else {
            return;
        };
        let line = render(self.next_seq, stream, &partial);
        self.next_seq += 1;
        self.bytes += line.text.len();
        self.lines.push_back(line);
        while self.lines.len() > self.max_lines
            || (self.bytes > self.max_bytes && self.lines.len() > 1)
        {
            let Some(old) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= old.text.len();
            self.dropped += 1;
        }
    }
}

fn render(seq: u64, stream: LogStream, partial: &Partial) -> LogLine {
    let mut bytes = partial.bytes.as_slice();
    // A CRLF line ending is a line ending, not a carriage return to show.
    if let Some(stripped) = bytes.strip_suffix(b"\r") {
        bytes = stripped;
    }
    LogLine {
        seq,
        at: partial.at,
        stream,
        text: sanitize::line(&String::from_utf8_lossy(bytes)),
        truncated: partial.truncated,
    }
}

/// Byte ranges of every non-overlapping occurrence of `query` in `text`, exactly as
/// written, or case-insensitively; for highlighting one line.
pub fn find_matches(text: &str, query: &str, case_insensitive: bool) -> Vec<Range<usize>> {
    if query.is_empty() {
        return Vec::new();
    }
    if case_insensitive {
        find_folded(text, &fold(query))
    } else {
        find_exact(text, query)
    }
}

fn find_exact(text: &str, query: &str) -> Vec<Range<usize>> {
    text.match_indices(query)
        .map(|(start, found)| start..start + found.len())
        .collect()
}

fn fold(text: &str) -> Vec<char> {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// Matches on the lowercased characters of `text`, mapping each match back to the
/// original characters it came from (lowercasing can change a character's length,
/// so ranges in a lowercased copy would not fit the original).
fn find_folded(text: &str, query: &[char]) -> Vec<Range<usize>> {
    // Each folded character with the byte range of the original character it came from.
    let folded: Vec<(char, usize, usize)> = text
        .char_indices()
        .flat_map(|(start, c)| {
            let end = start + c.len_utf8();
            c.to_lowercase().map(move |lower| (lower, start, end))
        })
        .collect();
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let mut i = 0;
    while i + query.len() <= folded.len() {
        let window = &folded[i..i + query.len()];
        let starts_a_char = i == 0 || folded[i - 1].1 != folded[i].1;
        if starts_a_char && window.iter().map(|f| f.0).eq(query.iter().copied()) {
            let start = window[0].1;
            let end = window[window.len() - 1].2;
            ranges.push(start..end);
            i += query.len();
        } else {
            i += 1;
        }
    }
    ranges
}

#[cfg(test)]
// Match results are vectors of byte ranges; one match is a one-range vector.
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn texts(buffer: &LogBuffer) -> Vec<&str> {
        buffer.lines().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn docker_timestamps_are_split_off_each_frame() {
        let chunk = LogChunk::from_output(LogOutput::StdOut {
            message: Bytes::from_static(b"2024-05-01T12:30:45.123456789Z hello world\n"),
        });
        assert_eq!(chunk.at, Some(datetime!(2024-05-01 12:30:45.123456789 UTC)));
        assert_eq!(chunk.stream, LogStream::Stdout);
        assert_eq!(&chunk.bytes[..], b"hello world\n");

        let stderr = LogChunk::from_output(LogOutput::StdErr {
            message: Bytes::from_static(b"2024-05-01T12:30:45+02:00 oops\n"),
        });
        assert_eq!(stderr.stream, LogStream::Stderr);
        assert_eq!(stderr.at, Some(datetime!(2024-05-01 10:30:45 UTC)));
    }

    #[test]
    fn frames_without_a_timestamp_keep_every_byte() {
        for raw in [&b"not-a-time hello\n"[..], b"nospace", b"", b" leading"] {
            let chunk = LogChunk::from_output(LogOutput::Console {
                message: Bytes::copy_from_slice(raw),
            });
            assert_eq!(chunk.at, None);
            assert_eq!(&chunk.bytes[..], raw);
        }
    }

    #[test]
    fn chunks_are_joined_and_split_into_lines_per_stream() {
        let mut buffer = LogBuffer::default();
        let t1 = datetime!(2024-01-01 00:00:01 UTC);
        let t2 = datetime!(2024-01-01 00:00:02 UTC);
        buffer.push_chunk(b"one\ntw", LogStream::Stdout, Some(t1));
        buffer.push_chunk(b"err line\n", LogStream::Stderr, Some(t2));
        buffer.push_chunk(b"o\nthree\n", LogStream::Stdout, Some(t2));
        assert_eq!(texts(&buffer), ["one", "err line", "two", "three"]);
        let lines: Vec<_> = buffer.lines().collect();
        assert_eq!(lines[2].at, Some(t1), "a line keeps the time it started at");
        assert_eq!(lines[1].stream, LogStream::Stderr);
        assert_eq!(
            lines.iter().map(|l| l.seq).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        assert!(!buffer.has_partial());
    }

    #[test]
    fn a_partial_line_waits_for_its_newline_or_a_pause() {
        let mut buffer = LogBuffer::default();
        buffer.push_chunk(b"Password: ", LogStream::Stdout, None);
        assert!(buffer.is_empty());
        assert!(buffer.has_partial());
        assert_eq!(
            buffer.partials().map(|l| l.text).collect::<Vec<_>>(),
            ["Password: "]
        );
        buffer.flush_partials();
        assert_eq!(texts(&buffer), ["Password: "]);
        assert!(!buffer.has_partial());
        // Flushing with nothing held adds nothing.
        buffer.flush_partials();
        assert_eq!(buffer.len(), 1);
    }

    #[test]
    fn hostile_lines_are_inert() {
        let mut buffer = LogBuffer::default();
        let hostile: &[&[u8]] = &[
            b"\x1b[2J\x1b[Hcleared\n",
            b"\x1b]0;owned title\x07after title\n",
            b"\x1b]52;c;ZXZpbA==\x1b\\clipboard\n",
            "8bit \u{9b}31mcsi\n".as_bytes(),
            b"raw 8bit \x9b31m csi\n",
            b"progress 10%\rprogress 100%\r\n",
            b"bad utf8 \xff\xfe end\n",
            "bidi \u{202e}txt.exe\n".as_bytes(),
            b"bell\x07 del\x7f\n",
        ];
        for raw in hostile {
            buffer.push_chunk(raw, LogStream::Stdout, None);
        }
        assert_eq!(
            texts(&buffer),
            [
                "cleared",
                "after title",
                "clipboard",
                "8bit csi",
                "raw 8bit \u{fffd}31m csi",
                "progress 10%progress 100%",
                "bad utf8 \u{fffd}\u{fffd} end",
                "bidi \\u{202e}txt.exe",
                "bell\\x07 del\\x7f",
            ]
        );
        for line in buffer.lines() {
            assert!(
                !line.text.chars().any(|c| c.is_control()),
                "{:?} still holds a control character",
                line.text
            );
        }
    }

    #[test]
    fn a_utf8_character_split_between_chunks_survives() {
        let mut buffer = LogBuffer::default();
        let text = "grüße\n".as_bytes();
        // "ü" is two bytes: split between them.
        buffer.push_chunk(&text[..3], LogStream::Stdout, None);
        buffer.push_chunk(&text[3..], LogStream::Stdout, None);
        assert_eq!(texts(&buffer), ["grüße"]);
    }

    #[test]
    fn a_ten_megabyte_line_is_cut_and_marked() {
        let mut buffer = LogBuffer::default();
        let piece = vec![b'x'; 16 * 1024];
        // As Docker sends it: 16 KiB messages, the last one ending the line.
        for _ in 0..640 {
            buffer.push_chunk(&piece, LogStream::Stdout, None);
        }
        buffer.push_chunk(b"tail\nnext\n", LogStream::Stdout, None);
        assert_eq!(buffer.len(), 2);
        let long = &buffer.lines().next().expect("the long line");
        assert_eq!(long.text.len(), MAX_LINE_BYTES);
        assert!(long.is_truncated());
        assert_eq!(
            long.truncated,
            (640 * 16 * 1024 + 4 - MAX_LINE_BYTES) as u64
        );
        assert!(
            long.display(false)
                .ends_with(&format!("x [truncated: {} more bytes]", long.truncated))
        );
        assert_eq!(
            buffer.get(1).map(|l| l.display(true)).as_deref(),
            Some("- next")
        );
        assert!(!buffer.get(1).is_some_and(LogLine::is_truncated));
    }

    #[test]
    fn the_oldest_lines_go_first_and_are_counted() {
        let mut buffer = LogBuffer::new(3, usize::MAX);
        for i in 0..5 {
            buffer.push_chunk(format!("line {i}\n").as_bytes(), LogStream::Stdout, None);
        }
        assert_eq!(texts(&buffer), ["line 2", "line 3", "line 4"]);
        assert_eq!(buffer.dropped(), 2);
        assert_eq!(buffer.first_seq(), 2);
        assert_eq!(buffer.index_of_seq(1), None);
        assert_eq!(buffer.index_of_seq(3), Some(1));
        assert_eq!(buffer.index_of_seq(5), None);
    }

    #[test]
    fn the_byte_cap_bounds_the_buffer_but_keeps_the_newest_line() {
        let mut buffer = LogBuffer::new(1000, 100);
        for _ in 0..10 {
            buffer.push_chunk(&[b'a'; 30], LogStream::Stdout, None);
            buffer.push_chunk(b"\n", LogStream::Stdout, None);
        }
        assert_eq!(buffer.len(), 3);
        assert_eq!(buffer.text_bytes(), 90);
        assert_eq!(buffer.dropped(), 7);
        buffer.push_chunk(&[b'b'; 500], LogStream::Stdout, None);
        buffer.flush_partials();
        assert_eq!(
            buffer.len(),
            1,
            "one line longer than the cap is still shown"
        );
    }

    #[test]
    fn search_finds_every_match_with_byte_ranges() {
        let mut buffer = LogBuffer::default();
        for line in [
            "GET /health 200",
            "error: disk full",
            "ERROR again, Error",
            "ok",
        ] {
            buffer.push_chunk(format!("{line}\n").as_bytes(), LogStream::Stdout, None);
        }
        assert_eq!(buffer.search("error", false), vec![(1, vec![0..5])]);
        assert_eq!(
            buffer.search("error", true),
            vec![(1, vec![0..5]), (2, vec![0..5, 13..18])]
        );
        assert!(buffer.search("", true).is_empty());
        assert!(buffer.search("absent", true).is_empty());
    }

    #[test]
    fn case_insensitive_ranges_fit_the_original_text() {
        // "İ" lowercases to two characters; "Σ" to one of a different length class.
        let text = "xİstanbul ΣΟΦΙΑ";
        let ranges = find_matches(text, "i\u{307}stanbul", true);
        assert_eq!(ranges, vec![1..10]);
        assert_eq!(&text[ranges[0].clone()], "İstanbul");
        let ranges = find_matches(text, "σοφια", true);
        assert_eq!(&text[ranges[0].clone()], "ΣΟΦΙΑ");
        // Overlapping candidates: matches do not overlap.
        assert_eq!(find_matches("aaaa", "AA", true), vec![0..2, 2..4]);
    }

    #[test]
    fn save_writes_timestamps_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("web.log");
        let mut buffer = LogBuffer::default();
        let at = datetime!(2024-05-01 12:30:45.5 UTC);
        buffer.push_chunk(b"started\n", LogStream::Stdout, Some(at));
        buffer.push_chunk(b"warn\n", LogStream::Stderr, None);
        buffer.push_chunk(b"pending", LogStream::Stdout, Some(at));
        assert_eq!(buffer.save(&path, false).expect("save"), 3);
        let saved = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            saved,
            "2024-05-01T12:30:45.5Z stdout started\n- stderr warn\n2024-05-01T12:30:45.5Z stdout pending\n"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let err = buffer.save(&path, false).expect_err("must not overwrite");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        buffer.flush_partials();
        buffer.push_chunk(b"more\n", LogStream::Stdout, None);
        assert_eq!(buffer.save(&path, true).expect("overwrite"), 4);
        assert!(
            std::fs::read_to_string(&path)
                .expect("read")
                .ends_with("- stdout more\n")
        );
    }

    #[test]
    fn save_marks_truncated_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("long.log");
        let mut buffer = LogBuffer::default();
        buffer.push_chunk(&vec![b'x'; MAX_LINE_BYTES + 10], LogStream::Stdout, None);
        buffer.push_chunk(b"\n", LogStream::Stdout, None);
        buffer.save(&path, false).expect("save");
        let saved = std::fs::read_to_string(&path).expect("read");
        assert!(
            saved.ends_with("x [truncated: 10 more bytes]\n"),
            "{saved:.40}"
        );
    }

    #[test]
    fn only_messages_after_the_newest_delivered_are_caught_up() {
        let t = datetime!(2024-05-01 12:00:00.5 UTC);
        assert!(newer(Some(t + time::Duration::NANOSECOND), Some(t)));
        assert!(!newer(Some(t), Some(t)));
        assert!(!newer(Some(t - time::Duration::SECOND), Some(t)));
        assert!(!newer(None, Some(t)));
    }

    #[test]
    fn an_unrepresentable_since_is_an_error_not_a_silent_change() {
        let docker =
            crate::docker::transport::local(Path::new("/nonexistent/docker.sock")).expect("client");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let first = runtime.block_on(async {
            let mut logs = follow(&docker, "web", 10, Some(i64::MAX));
            logs.next().await
        });
        match first {
            Some(Err(Error::IOError { err })) => {
                assert_eq!(err.kind(), io::ErrorKind::InvalidInput)
            }
            other => panic!("expected an input error, got {other:?}"),
        }
    }
}
