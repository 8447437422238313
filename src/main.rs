//! The `skiff` binary: everything lives in the library; this only turns the result into an exit code.

fn main() -> std::process::ExitCode {
    skiff::cli::main()
}
