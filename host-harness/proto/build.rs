//! Compiles the `.proto` files with protox (no `protoc` on the machine) and
//! generates the messages (prost) and both sides of each service (tonic).
//! `bytes` fields become `bytes::Bytes`, so an object's chunks move between
//! the wire and the component without a copy.

const PROTOS: [&str; 3] = [
    "storage/storage.proto",
    "importer/importer.proto",
    "exporter/exporter.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    tonic_prost_build::configure()
        .bytes(".")
        .compile_fds(descriptors)?;
    Ok(())
}
