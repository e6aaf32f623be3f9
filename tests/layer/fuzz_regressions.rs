//! The fuzz corpus as regression tests: every input kept in
//! `tests/fuzz_corpus/` is run through the layer, with every token source
//! and with the default configuration, with the same decoding and the same
//! checks as the `layer_request` fuzz target (shared in
//! `tests/support/fuzz_input.rs`). The parser's own corpus is replayed by a
//! unit test in `src/credentials/authorization.rs`.

use crate::support::fuzz_input as request_input;

use std::path::Path;

use tower::{Layer, ServiceExt};

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
    let layers = [request_input::layer(), request_input::default_layer()];
    let inputs = corpus("layer_request");
    assert!(
        inputs.len() >= 20,
        "the corpus is there ({} inputs)",
        inputs.len()
    );
    let mut passed = 0;
    for ((name, data), layer) in inputs
        .iter()
        .flat_map(|input| layers.iter().map(move |layer| (input, layer)))
    {
        let response = layer
            .layer(request_input::Inner)
            .oneshot(request_input::request(data))
            .await
            .expect("infallible");
        let reached = response
            .extensions()
            .get::<request_input::Reached>()
            .copied();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            request_input::check_response(&response);
        }));
        assert!(outcome.is_ok(), "corpus input {name}");
        passed += usize::from(reached.is_some_and(|request_input::Reached(known)| known));
    }
    assert!(
        passed > 0,
        "some corpus inputs carry the known key and pass"
    );
}
