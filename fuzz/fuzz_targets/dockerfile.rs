//! `cargo +nightly fuzz run dockerfile`: any text, read as a Dockerfile and every word of it
//! substituted, must give a result or an error, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        skiff::build::dockerfile::exercise(text);
    }
});
