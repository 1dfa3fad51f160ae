//! Request body bytes as they arrive from the client, counted into the site's cells of the
//! worker's shard (added only with metrics on, and only to requests that have a body).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

use super::Shard;
use crate::exchange::{BoxError, ProxyBody};

/// `body`, counting its data bytes as received for site `site`.
pub(crate) fn count_received(body: ProxyBody, shard: Arc<Shard>, site: u32) -> ProxyBody {
    Received { body, shard, site }.boxed()
}

struct Received {
    body: ProxyBody,
    shard: Arc<Shard>,
    site: u32,
}

impl Body for Received {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.shard.bytes_in(Some(self.site), data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
