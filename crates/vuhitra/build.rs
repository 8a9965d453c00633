//! Link options for the `vuhitra` executable.
//!
//! On GNU/Linux the executable is linked with packed relative relocations
//! (RELR, `-z pack-relative-relocs`; binutils 2.38, glibc 2.36). A PIE this
//! size has about 190k relative relocations: as RELA entries that is 4.5 MB
//! the dynamic loader reads and applies on every start, a large part of a
//! cached answer's few milliseconds. RELR encodes the same relocations as a
//! bitmap of a few kilobytes, and keeps the executable position-independent.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
