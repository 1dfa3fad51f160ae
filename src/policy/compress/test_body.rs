//! Test bodies: a scripted backend body (frames, "nothing yet", trailers, errors) and a poller
//! that records what a body yields, without a runtime.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame};
use http_body_util::BodyExt;

use crate::exchange::{BoxError, ProxyBody};

/// One step of a scripted backend body.
pub(super) enum Step {
    Data(Bytes),
    /// The backend has nothing ready (once).
    Pending,
    Trailers(HeaderMap),
    Fail,
}

/// A body of unknown length that plays `steps` in order.
pub(super) fn script(steps: Vec<Step>) -> ProxyBody {
    Script(steps.into()).boxed()
}

struct Script(VecDeque<Step>);

impl Body for Script {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.0.pop_front() {
            None => Poll::Ready(None),
            Some(Step::Data(d)) => Poll::Ready(Some(Ok(Frame::data(d)))),
            Some(Step::Trailers(t)) => Poll::Ready(Some(Ok(Frame::trailers(t)))),
            Some(Step::Fail) => Poll::Ready(Some(Err("backend reset".into()))),
            Some(Step::Pending) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}

/// What polling a body once gave.
#[derive(Debug)]
pub(super) enum Seen {
    Data(Bytes),
    Pending,
    Trailers(HeaderMap),
    Error(String),
}

/// Polls `body` once.
pub(super) fn poll_once(body: &mut ProxyBody) -> Option<Seen> {
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(body).poll_frame(&mut cx) {
        Poll::Pending => Some(Seen::Pending),
        Poll::Ready(None) => None,
        Poll::Ready(Some(Err(e))) => Some(Seen::Error(e.to_string())),
        Poll::Ready(Some(Ok(f))) => Some(match f.into_data() {
            Ok(d) => Seen::Data(d),
            Err(f) => Seen::Trailers(f.into_trailers().unwrap()),
        }),
    }
}

/// Everything `body` yields until it ends (at most 10 000 polls).
pub(super) fn drain(mut body: ProxyBody) -> Vec<Seen> {
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        match poll_once(&mut body) {
            Some(s) => seen.push(s),
            None => return seen,
        }
    }
    panic!("body did not end: {seen:?}");
}

/// The data bytes of `seen`, concatenated.
pub(super) fn bytes_of(seen: &[Seen]) -> Vec<u8> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Data(d) => Some(d.as_ref()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}
