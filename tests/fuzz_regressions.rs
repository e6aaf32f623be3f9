//! The fuzz corpus as regression tests: every input kept in
//! `tests/fuzz_corpus/` is run through the layer with the same decoding and
//! the same checks as the `layer_request` fuzz target (shared in
//! `fuzz/common/request_input.rs`). The parser's own corpus is replayed by a
//! unit test in `src/authorization_header.rs`.

#[path = "../fuzz/common/request_input.rs"]
#[allow(dead_code, unreachable_pub)]
mod request_input;

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::path::Path;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::{Layer, Service, ServiceExt};
use tower_bearer_auth::{ApiKey, BearerAuthLayer, KeyEntry, KeyStore, TokenDigest};

#[derive(Clone)]
struct Inner;

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

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&path).expect("corpus file"))
        })
        .collect()
}

#[tokio::test]
async fn every_corpus_input_gets_a_well_formed_answer() {
    let store = KeyStore::new();
    store
        .insert(KeyEntry::new(
            "key_known",
            "fuzz",
            TokenDigest::of(request_input::KNOWN_TOKEN),
        ))
        .expect("insert");
    let layer = BearerAuthLayer::builder(store)
        .accept_header("x-api-key")
        .accept_cookie("api_key")
        .accept_query_parameter()
        .max_token_len(64)
        .build()
        .expect("valid config");
    let inputs = corpus("layer_request");
    assert!(
        inputs.len() >= 20,
        "the corpus is there ({} inputs)",
        inputs.len()
    );
    let mut passed = 0;
    for (name, data) in &inputs {
        let response = layer
            .layer(Inner)
            .oneshot(request_input::request(data))
            .await
            .expect("infallible");
        let reached = response.extensions().get::<Reached>().copied();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            request_input::check(
                &response,
                reached.is_some(),
                reached.is_some_and(|Reached(known)| known),
            );
        }));
        assert!(outcome.is_ok(), "corpus input {name}");
        passed += usize::from(reached.is_some());
    }
    assert!(
        passed > 0,
        "some corpus inputs carry the known key and pass"
    );
}
