//! Command-line layer: clap definitions, dispatch and output. Parses, calls one operation, prints.

pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
