//! Turns fuzzer bytes into an HTTP request, runs it through the layer, and
//! checks the answer. Shared by the `layer_request` fuzz target (which
//! includes this file with `#[path]`) and the corpus regression test in
//! `tests/layer/fuzz_regressions.rs`.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use http::{HeaderValue, Method, Request, Response, StatusCode};
use tower_bearer_auth::key_store::TokenDigest;
use tower_bearer_auth::{ApiKey, BearerAuthLayer, KeyEntry, KeyStore};
use tower_service::Service;

/// The one valid key of the fuzzed store.
pub const KNOWN_TOKEN: &str = "sk_fuzzKnownKey0123456789abcdefghij";

/// Fields separated by 0xFF: flags, authorization (0..2 values), x-api-key,
/// cookie, query, content-type. Invalid header bytes are dropped.
pub fn request(data: &[u8]) -> Request<()> {
    let mut fields = data.split(|&b| b == 0xFF);
    let flags = fields.next().and_then(|f| f.first().copied()).unwrap_or(0);
    let method = match flags & 3 {
        0 => Method::GET,
        1 => Method::HEAD,
        2 => Method::POST,
        _ => Method::DELETE,
    };
    let query = String::from_utf8_lossy(fields.clone().nth(3).unwrap_or_default())
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '#')
        .collect::<String>();
    let uri = http::Uri::try_from(format!("/v1/resource?{query}"))
        .unwrap_or_else(|_| http::Uri::from_static("/v1/resource"));
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    let mut put = |name: &'static str, bytes: Option<&[u8]>, append: bool| {
        if let Some(value) = bytes.and_then(|b| HeaderValue::from_bytes(b).ok()) {
            if append {
                headers.append(name, value);
            } else {
                headers.insert(name, value);
            }
        }
    };
    let authorization = fields.next();
    put("authorization", authorization, false);
    if flags & 4 != 0 {
        put("authorization", authorization, true);
    }
    put("x-api-key", fields.next(), false);
    put("cookie", fields.next(), false);
    let _query = fields.next();
    put("content-type", fields.next(), false);
    if flags & 8 != 0 {
        put("content-type", Some(b"application/grpc"), false);
    }
    request
}

/// What the layer may answer: the inner service's 200 only for the known
/// key, or a rejection with its matching status; never anything else.
pub fn check<B>(response: &Response<B>, reached_inner: bool, known_key_seen: bool) {
    let status = response.status();
    if reached_inner {
        assert_eq!(status, StatusCode::OK);
        assert!(
            known_key_seen,
            "the inner service ran without the known key"
        );
        return;
    }
    let grpc = response.headers().get("grpc-status");
    match grpc {
        Some(code) => {
            assert_eq!(status, StatusCode::OK);
            assert!(matches!(code.as_bytes(), b"16" | b"7" | b"14"), "{code:?}");
        }
        None => assert!(
            matches!(status.as_u16(), 400 | 401 | 403),
            "unexpected status {status}"
        ),
    }
}

/// The layer under test: a store holding the known key, every token source.
pub fn layer() -> BearerAuthLayer<KeyStore> {
    BearerAuthLayer::builder(known_store())
        .accept_header("x-api-key")
        .accept_cookie("api_key")
        .accept_query_parameter()
        .max_token_len(64)
        .build()
        .expect("valid config")
}

/// The default configuration (the `Authorization` header only, tokens up
/// to 4096 bytes): the one-lookup path, and past 64 bytes the general one.
pub fn default_layer() -> BearerAuthLayer<KeyStore> {
    BearerAuthLayer::new(known_store())
}

fn known_store() -> KeyStore {
    let store = KeyStore::new();
    store
        .insert(KeyEntry::new(
            "key_known",
            "fuzz",
            TokenDigest::of(KNOWN_TOKEN),
        ))
        .expect("insert");
    store
}

/// The inner service: answers 200 and records whether it saw the known key.
#[derive(Clone, Copy, Debug)]
pub struct Inner;

/// Put in the response by [`Inner`]: whether it saw the known key.
#[derive(Clone, Copy, Debug)]
pub struct Reached(pub bool);

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

/// [`check`] for a response of the layer over [`Inner`].
pub fn check_response<B>(response: &Response<B>) {
    let reached = response.extensions().get::<Reached>().copied();
    check(
        response,
        reached.is_some(),
        reached.is_some_and(|Reached(known)| known),
    );
}
