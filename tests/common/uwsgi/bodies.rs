//! Request bodies of any size without holding them in memory, and small response helpers, for
//! the uwsgi tests.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use dockside::exchange::{BoxError, ProxyBody};
use http::Response;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

const CHUNK: usize = 64 * 1024;
const POOL: usize = 1024 * 1024;

/// `len` bytes of a fixed pseudo-random pattern, sent in 64 KiB slices of one shared 1 MiB
/// pool; `exact` decides whether the body announces its length (else it looks chunked).
pub struct Pattern {
    pool: Bytes,
    left: u64,
    index: usize,
    exact: bool,
}

impl Pattern {
    pub fn new(len: u64, exact: bool) -> Pattern {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let pool: Vec<u8> = (0..POOL)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        Pattern {
            pool: pool.into(),
            left: len,
            index: 0,
            exact,
        }
    }

    fn next_chunk(&mut self) -> Option<Bytes> {
        if self.left == 0 {
            return None;
        }
        let n = CHUNK.min(usize::try_from(self.left).unwrap_or(CHUNK));
        let off = (self.index * 4099) % (POOL - CHUNK);
        self.index += 1;
        self.left -= n as u64;
        Some(self.pool.slice(off..off + n))
    }

    /// The sha256 the app must report for this body.
    pub fn sha256_hex(mut self) -> String {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        while let Some(c) = self.next_chunk() {
            ctx.update(&c);
        }
        ctx.finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl Body for Pattern {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Poll::Ready(self.get_mut().next_chunk().map(|c| Ok(Frame::data(c))))
    }

    fn is_end_stream(&self) -> bool {
        // Like a chunked body, one of unknown length only knows it ended when it did.
        self.exact && self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        if self.exact {
            SizeHint::with_exact(self.left)
        } else {
            SizeHint::default()
        }
    }
}

/// The whole (small) body as text.
pub async fn collect(resp: Response<ProxyBody>) -> String {
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The body parsed as JSON.
pub async fn json(resp: Response<ProxyBody>) -> serde_json::Value {
    let text = collect(resp).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// (data frames, total bytes) of a body read to its end without keeping it.
pub async fn count_frames(mut body: ProxyBody) -> Result<(usize, usize), BoxError> {
    let (mut frames, mut total) = (0, 0);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            frames += 1;
            total += data.len();
        }
    }
    Ok((frames, total))
}
