//! Regenerates the demo server's gRPC code with a vendored `protoc`.

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: single-threaded, before anything reads the environment.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let out = root.join("examples/server/proto");
    std::fs::create_dir_all(&out)?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .out_dir(&out)
        .compile_protos(&[root.join("proto/demo/v1/profiles.proto")], &[root.join("proto")])?;
    println!("wrote {}", out.join("demo.v1.rs").display());
    Ok(())
}
