//! The response body: the inner service's, or a rejection's bytes.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The body of a response from [`BearerAuth`](crate::BearerAuth) (and
    /// the per-route scope check): the inner service's body, or the bytes of
    /// a rejection. No `Default` bound is needed on the inner body; the
    /// body itself implements `Default` (empty), as layers such as
    /// tower-http's `CorsLayer` and `TimeoutLayer` require of what they wrap.
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Rejection { bytes: Option<Bytes> },
    }
}

impl<B> ResponseBody<B> {
    /// Wraps the inner service's body.
    pub(crate) fn inner(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }

    /// A body made of `bytes` (empty for `HEAD` and gRPC rejections).
    pub(crate) fn rejection(bytes: Bytes) -> Self {
        Self {
            kind: Kind::Rejection {
                bytes: (!bytes.is_empty()).then_some(bytes),
            },
        }
    }
}

/// An empty body, as tower-http's `Cors` and `Timeout` need for the
/// responses they make themselves.
impl<B> Default for ResponseBody<B> {
    fn default() -> Self {
        Self {
            kind: Kind::Rejection { bytes: None },
        }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body,
    B::Data: From<Bytes>,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Rejection { bytes } => {
                Poll::Ready(bytes.take().map(|bytes| Ok(Frame::data(bytes.into()))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Rejection { bytes } => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Rejection { bytes } => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::{BodyExt, Full};

    use super::*;

    #[tokio::test]
    async fn rejection_body_yields_its_bytes_once() {
        let body: ResponseBody<Full<Bytes>> = ResponseBody::rejection(Bytes::from_static(b"{}"));
        assert!(!body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(2));
        let collected = body.collect().await.expect("infallible").to_bytes();
        assert_eq!(collected, "{}");
    }

    #[tokio::test]
    async fn empty_rejection_body_is_already_finished() {
        let body: ResponseBody<Full<Bytes>> = ResponseBody::rejection(Bytes::new());
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
    }

    #[tokio::test]
    async fn the_default_body_is_empty() {
        let body: ResponseBody<Full<Bytes>> = ResponseBody::default();
        assert!(body.is_end_stream());
        let collected = body.collect().await.expect("infallible").to_bytes();
        assert!(collected.is_empty());
    }

    #[tokio::test]
    async fn inner_body_is_delegated() {
        let body = ResponseBody::inner(Full::new(Bytes::from_static(b"hello")));
        assert_eq!(body.size_hint().exact(), Some(5));
        let collected = body.collect().await.expect("infallible").to_bytes();
        assert_eq!(collected, "hello");
    }
}
