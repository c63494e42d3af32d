//! The `loco` binary: see `loco --help` and docs/cli.md.

fn main() -> std::process::ExitCode {
    loco_cli::cli::main()
}
