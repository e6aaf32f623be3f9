//! A whole request through `BearerAuthLayer` + `KeyStore`, with every token
//! source enabled and with the default configuration (the `Authorization`
//! header only: the one-lookup path), with arbitrary header bytes: never a
//! panic, never a pass without the known key, always a well-formed
//! rejection otherwise.

#![no_main]

#[path = "../../tests/support/fuzz_input.rs"]
#[allow(dead_code)]
mod request_input;

use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use tower_bearer_auth::{BearerAuthLayer, KeyStore};
use tower_layer::Layer;
use tower_service::Service;

fn layers() -> &'static [BearerAuthLayer<KeyStore>; 2] {
    static LAYERS: OnceLock<[BearerAuthLayer<KeyStore>; 2]> = OnceLock::new();
    LAYERS.get_or_init(|| [request_input::layer(), request_input::default_layer()])
}

fuzz_target!(|data: &[u8]| {
    for layer in layers() {
        let mut service = layer.layer(request_input::Inner);
        let request = request_input::request(data);
        let mut future = pin!(service.call(request));
        let Poll::Ready(Ok(response)) = future.as_mut().poll(&mut Context::from_waker(Waker::noop())) else {
            panic!("a synchronous validator answers at once");
        };
        request_input::check_response(&response);
    }
});
