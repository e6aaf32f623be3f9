//! A whole request through `BearerAuthLayer` + `KeyStore`, every token
//! source enabled, with arbitrary header bytes: never a panic, never a pass
//! without the known key, always a well-formed rejection otherwise.

#![no_main]

#[path = "../common/request_input.rs"]
mod request_input;

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use http::{Request, Response};
use libfuzzer_sys::fuzz_target;
use tower_bearer_auth::{ApiKey, BearerAuthLayer, KeyEntry, KeyStore, TokenDigest};
use tower_layer::Layer;
use tower_service::Service;

#[derive(Clone)]
struct Inner;

/// Put in the response by the inner service: whether it saw the known key.
#[derive(Clone, Copy)]
struct Reached(bool);

impl Service<Request<()>> for Inner {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Ready<Result<Response<()>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<()>) -> Self::Future {
        let known = request
            .extensions()
            .get::<ApiKey>()
            .is_some_and(|key| key.id() == "key_known");
        let mut response = Response::new(());
        response.extensions_mut().insert(Reached(known));
        ready(Ok(response))
    }
}

fn layer() -> &'static BearerAuthLayer<KeyStore> {
    static LAYER: OnceLock<BearerAuthLayer<KeyStore>> = OnceLock::new();
    LAYER.get_or_init(|| {
        let store = KeyStore::new();
        store
            .insert(KeyEntry::new("key_known", "fuzz", TokenDigest::of(request_input::KNOWN_TOKEN)))
            .expect("insert");
        BearerAuthLayer::builder(store)
            .accept_header("x-api-key")
            .accept_cookie("api_key")
            .accept_query_parameter()
            .max_token_len(64)
            .build()
            .expect("valid config")
    })
}

fuzz_target!(|data: &[u8]| {
    let mut service = layer().layer(Inner);
    let request = request_input::request(data);
    let mut future = pin!(service.call(request));
    let Poll::Ready(Ok(response)) = future.as_mut().poll(&mut Context::from_waker(Waker::noop())) else {
        panic!("a synchronous validator answers at once");
    };
    let reached = response.extensions().get::<Reached>().copied();
    request_input::check(&response, reached.is_some(), reached.is_some_and(|Reached(known)| known));
});
