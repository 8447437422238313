//! Compiles the trampoline (src/runtime/trampoline/main.rs) into a tiny static executable that
//! skiff embeds: its own crate, with no standard library and no C library, so that building
//! skiff needs nothing beyond the Rust toolchain and the C compiler it already links with.
// Build scripts speak to cargo on standard output.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::Command;

const SOURCE: &str = "src/runtime/trampoline/main.rs";

fn main() {
    println!("cargo:rerun-if-changed={SOURCE}");
    let (Some(out_dir), Some(rustc), Ok(target)) = (
        std::env::var_os("OUT_DIR"),
        std::env::var_os("RUSTC"),
        std::env::var("TARGET"),
    ) else {
        panic!("cargo runs build scripts with OUT_DIR, RUSTC and TARGET set");
    };
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if !["x86_64", "aarch64"].contains(&arch.as_str()) {
        panic!("the trampoline is written for x86_64 and aarch64, not {arch}");
    }
    let output = PathBuf::from(out_dir).join("trampoline");
    let mut command = Command::new(rustc);
    command
        .args([
            "--edition=2021",
            "--crate-type=bin",
            "--crate-name=trampoline",
        ])
        .arg(format!("--target={target}"))
        .args([
            "-Copt-level=s",
            "-Cpanic=abort",
            "-Cdebuginfo=0",
            "-Cstrip=symbols",
        ])
        // A static executable the kernel maps as it is: no loader, no relocations to apply,
        // no C start files or libraries.
        .args(["-Crelocation-model=static", "-Ctarget-feature=+crt-static"])
        .args([
            "-Clink-arg=-nostartfiles",
            "-Clink-arg=-nostdlib",
            "-Clink-arg=-static",
        ])
        .args([
            "-Clink-arg=-Wl,--build-id=none",
            "-Clink-arg=-Wl,-z,noexecstack",
        ]);
    if let Some(linker) = std::env::var_os("RUSTC_LINKER") {
        let mut option = std::ffi::OsString::from("-Clinker=");
        option.push(linker);
        command.arg(option);
    }
    command.arg("-o").arg(&output).arg(SOURCE);
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("compiling the trampoline ({SOURCE}) failed: {status}"),
        Err(error) => panic!("cannot run rustc for the trampoline: {error}"),
    }
}
