//! `Content-Length` framing, read defensively: a broken frame (a bad or missing `Content-Length`, a body
//! without a header, headers that never end, a frame over the size cap) is reported once and the reader
//! resynchronises on the next `Content-Length:` header, so one bad frame never costs the session, and an
//! announced terabyte is refused at once instead of waited for.

use tokio::io::{AsyncRead, AsyncReadExt};

/// The largest message accepted (a whole-file didOpen of a big bundle fits; a runaway stream does not).
pub(crate) const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// Headers longer than this without their blank line are not headers.
const MAX_HEADER_BYTES: usize = 8 * 1024;
const CONTENT_LENGTH: &[u8] = b"content-length:";
const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    Message(Vec<u8>),
    /// A frame that could not be read; the reason, for the error response.
    Broken(String),
    Eof,
}

pub(crate) struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
    eof: bool,
    /// Set after a broken frame: skip this many bytes, then everything up to the next `Content-Length:`.
    resync_from: Option<usize>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(inner: R) -> Self {
        Self { inner, buf: Vec::new(), eof: false, resync_from: None }
    }

    /// Reads more input; false at end of input.
    async fn fill(&mut self) -> bool {
        if self.eof {
            return false;
        }
        self.buf.reserve(READ_CHUNK);
        match self.inner.read_buf(&mut self.buf).await {
            Ok(n) if n > 0 => true,
            outcome => {
                if let Err(e) = outcome {
                    tracing::warn!(%e, "reading input failed");
                }
                self.eof = true;
                false
            }
        }
    }

    /// Reports a broken frame; the next read starts looking for a header `skip` bytes in.
    fn broken(&mut self, skip: usize, why: String) -> Frame {
        self.resync_from = Some(skip);
        Frame::Broken(why)
    }

    /// Drops everything before the next `Content-Length:` header; false at end of input.
    async fn resync(&mut self, skip: usize) -> bool {
        self.buf.drain(..skip.min(self.buf.len()));
        loop {
            if let Some(at) = find_ignore_case(&self.buf, CONTENT_LENGTH) {
                self.buf.drain(..at);
                return true;
            }
            // Keep a tail that may be the start of a header split across reads.
            let keep = (CONTENT_LENGTH.len() - 1).min(self.buf.len());
            self.buf.drain(..self.buf.len() - keep);
            if !self.fill().await {
                return false;
            }
        }
    }

    pub async fn next(&mut self) -> Frame {
        if let Some(skip) = self.resync_from.take()
            && !self.resync(skip).await
        {
            return Frame::Eof;
        }
        // Stray blank lines between messages are allowed.
        loop {
            let blank = self.buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
            self.buf.drain(..blank);
            if !self.buf.is_empty() {
                break;
            }
            if !self.fill().await {
                return Frame::Eof;
            }
        }
        if !is_token_byte(self.buf[0]) {
            return self.broken(1, "a message without a Content-Length header".into());
        }
        let (headers_end, length) = loop {
            match parse_headers(&self.buf) {
                Headers::Complete { end, .. } if end > MAX_HEADER_BYTES => {
                    return self.broken(1, format!("headers longer than {MAX_HEADER_BYTES} bytes"));
                }
                Headers::Complete { end, length } => break (end, length),
                Headers::Invalid(why) => return self.broken(1, why),
                Headers::Incomplete if self.buf.len() > MAX_HEADER_BYTES => {
                    return self.broken(1, format!("headers longer than {MAX_HEADER_BYTES} bytes"));
                }
                Headers::Incomplete => {
                    if !self.fill().await {
                        return Frame::Eof;
                    }
                }
            }
        };
        if length > MAX_MESSAGE_BYTES as u64 {
            return self.broken(
                headers_end,
                format!("a message of {length} bytes is over the {MAX_MESSAGE_BYTES}-byte limit; it was skipped"),
            );
        }
        let length = length as usize;
        while self.buf.len() < headers_end + length {
            if !self.fill().await {
                return Frame::Eof;
            }
        }
        let body = self.buf[headers_end..headers_end + length].to_vec();
        self.buf.drain(..headers_end + length);
        Frame::Message(body)
    }
}

enum Headers {
    Complete { end: usize, length: u64 },
    Incomplete,
    Invalid(String),
}

/// Parses the header block at the start of `buf` (lines ending in `\r\n` or `\n`, then a blank line).
fn parse_headers(buf: &[u8]) -> Headers {
    let mut length = None;
    let mut at = 0;
    loop {
        let Some(nl) = buf[at..].iter().position(|&b| b == b'\n') else {
            return Headers::Incomplete;
        };
        let line = &buf[at..at + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        at += nl + 1;
        if line.is_empty() {
            return match length {
                Some(length) => Headers::Complete { end: at, length },
                None => Headers::Invalid("a message without a Content-Length header".into()),
            };
        }
        let text = String::from_utf8_lossy(line);
        let Some((name, value)) = text.split_once(':').filter(|(name, _)| name.bytes().all(is_token_byte)) else {
            let shown: String = text.chars().take(80).collect();
            return Headers::Invalid(format!("expected a header line such as `Content-Length: 42`, got `{shown}`"));
        };
        if name.eq_ignore_ascii_case("content-length") {
            match value.trim().parse::<u64>() {
                Ok(n) => length = Some(n),
                Err(_) => {
                    return Headers::Invalid(format!("bad Content-Length header `{}`", text.trim()));
                }
            }
        }
        // Content-Type and any other header are allowed and ignored.
    }
}

/// A character allowed in a header name (RFC 9110 `token`).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::io::ReadBuf;

    use super::*;

    /// Input that arrives `chunk` bytes per read, so every split of headers and bodies is exercised.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        chunk: usize,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            out: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            let n = self.chunk.min(self.data.len() - self.at).min(out.remaining());
            let at = self.at;
            out.put_slice(&self.data[at..at + n]);
            self.at += n;
            Poll::Ready(Ok(()))
        }
    }

    fn framed(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    /// Every frame the input yields, read with each chunk size from 1 byte up.
    fn frames(input: &str) -> Vec<Frame> {
        let mut all: Option<Vec<Frame>> = None;
        for chunk in [1, 2, 3, 7, 64, READ_CHUNK] {
            let mut reader = FrameReader::new(Trickle { data: input.as_bytes().to_vec(), at: 0, chunk });
            let got = tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
                let mut got = Vec::new();
                loop {
                    match reader.next().await {
                        Frame::Eof => break got,
                        frame => got.push(frame),
                    }
                }
            });
            if let Some(all) = &all {
                assert_eq!(&got, all, "chunks of {chunk} bytes read differently");
            }
            all = Some(got);
        }
        all.unwrap()
    }

    fn msg(body: &str) -> Frame {
        Frame::Message(body.as_bytes().to_vec())
    }

    fn is_broken(frame: &Frame, says: &str) -> bool {
        matches!(frame, Frame::Broken(why) if why.contains(says))
    }

    const A: &str = r#"{"jsonrpc":"2.0","id":1,"method":"a"}"#;
    const B: &str = r#"{"jsonrpc":"2.0","id":2,"method":"b"}"#;

    #[test]
    fn well_formed_frames_in_any_split() {
        let input = format!("{}\r\n{}", framed(A), framed(B));
        assert_eq!(frames(&input), [msg(A), msg(B)]);
    }

    #[test]
    fn lower_case_and_extra_headers_are_accepted() {
        let input = format!(
            "content-length: {}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{A}{}",
            A.len(),
            framed(B)
        );
        assert_eq!(frames(&input), [msg(A), msg(B)]);
    }

    #[test]
    fn a_bad_length_is_reported_once_and_the_next_frame_is_read() {
        let input = format!("Content-Length: abc\r\n\r\n{A}{}", framed(B));
        let got = frames(&input);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(is_broken(&got[0], "bad Content-Length header `Content-Length: abc`"), "{got:?}");
        assert_eq!(got[1], msg(B));
    }

    #[test]
    fn a_body_without_a_header_is_reported_once() {
        let input = format!("{A}{}{}", framed(A), framed(B));
        let got = frames(&input);
        assert!(is_broken(&got[0], "without a Content-Length"), "{got:?}");
        assert_eq!(got[1..], [msg(A), msg(B)]);
    }

    #[test]
    fn a_header_line_that_is_not_a_header_is_reported() {
        let input = format!("Garbage-Without-Colon\r\n\r\n{}", framed(A));
        let got = frames(&input);
        assert!(is_broken(&got[0], "expected a header line"), "{got:?}");
        assert_eq!(got[1..], [msg(A)]);
    }

    #[test]
    fn an_oversized_frame_is_refused_at_once_and_skipped() {
        let input = format!("Content-Length: 1000000000000\r\n\r\n{A}{}", framed(B));
        let got = frames(&input);
        assert!(is_broken(&got[0], "1000000000000 bytes is over"), "{got:?}");
        assert_eq!(got[1..], [msg(B)]);
    }

    #[test]
    fn endless_headers_are_refused() {
        let input = format!("X-Filler: {}\r\n", "x".repeat(MAX_HEADER_BYTES + 10));
        let got = frames(&(input + &framed(A)));
        assert!(is_broken(&got[0], "headers longer than"), "{got:?}");
        assert_eq!(got[1..], [msg(A)]);
    }

    #[test]
    fn a_truncated_frame_ends_the_input_quietly() {
        assert_eq!(frames(&framed(A)[..30]), []);
    }
}
