//! The `loco` binary (HTTP API server and CLI); not built yet.

fn main() {
    eprintln!("loco: the HTTP API and CLI are not built yet");
    std::process::exit(2);
}
