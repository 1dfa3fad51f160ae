//! The request body as FastCGI STDIN records: a writer that frames every write into one record
//! (header and data in one vectored write), so the body that uwsgi's `Upload` streams or
//! replays from its spool goes out unchanged, just framed.

use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::AsyncWrite;

use super::codec::{self, HEADER_LEN, MAX_CONTENT, kind};

/// Wraps the connection's write half while the body is sent.
pub struct StdinWriter<W> {
    inner: W,
    header: [u8; HEADER_LEN],
    /// Header bytes already written for the record in progress (`HEADER_LEN`: none pending).
    header_sent: usize,
    /// Data bytes the record in progress still expects from the caller.
    data_left: usize,
}

impl<W> StdinWriter<W> {
    pub fn new(inner: W) -> Self {
        StdinWriter {
            inner,
            header: [0; HEADER_LEN],
            header_sent: HEADER_LEN,
            data_left: 0,
        }
    }

    /// The write half back, once the body is sent: `None` if a record was left unfinished.
    pub fn into_inner(self) -> Option<W> {
        (self.header_sent == HEADER_LEN && self.data_left == 0).then_some(self.inner)
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for StdinWriter<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.data_left == 0 && this.header_sent == HEADER_LEN {
            // A record promises its length up front; callers (`write_all`) come back with the
            // rest of the same buffer until it is all written.
            let len = buf.len().min(MAX_CONTENT);
            this.header = codec::header(kind::STDIN, len);
            this.header_sent = 0;
            this.data_left = len;
        }
        let data = &buf[..buf.len().min(this.data_left)];
        while this.header_sent < HEADER_LEN {
            let slices = [
                IoSlice::new(&this.header[this.header_sent..]),
                IoSlice::new(data),
            ];
            let n = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, &slices))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            let head = n.min(HEADER_LEN - this.header_sent);
            this.header_sent += head;
            let wrote = n - head;
            if wrote > 0 {
                this.data_left -= wrote;
                return Poll::Ready(Ok(wrote));
            }
        }
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, data))?;
        this.data_left -= n;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;
    use crate::upstream::fastcgi::codec::{Parsed, parse_header};

    #[tokio::test]
    async fn writes_become_records_of_at_most_65535_bytes() {
        let mut w = StdinWriter::new(Vec::new());
        let data: Vec<u8> = (0..MAX_CONTENT + 100).map(|i| i as u8).collect();
        w.write_all(&data).await.unwrap();
        w.write_all(b"tail").await.unwrap();
        let out = w.into_inner().expect("no record left open");
        let (mut at, mut body) = (0, Vec::new());
        while at < out.len() {
            let Ok(Parsed::Complete { value: h, .. }) = parse_header(&out[at..]) else {
                panic!()
            };
            assert_eq!(h.kind, kind::STDIN);
            assert!(
                h.content_len > 0,
                "no empty record: that would end the body"
            );
            body.extend_from_slice(&out[at + 8..at + 8 + usize::from(h.content_len)]);
            at += 8 + h.body_len();
        }
        let mut want = data;
        want.extend_from_slice(b"tail");
        assert_eq!(body, want);
    }
}
