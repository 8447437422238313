//! The `skiff` binary: everything lives in the library; this only turns the result into an exit code.

// As the library: functions at most 120 lines, outside tests.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

fn main() -> std::process::ExitCode {
    skiff::cli::main()
}
