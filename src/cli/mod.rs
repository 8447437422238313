//! Command-line layer: clap definitions, dispatch and output. Parses, calls one operation, prints.

pub mod format;
pub mod human;

pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
