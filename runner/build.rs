//! Builds the detection component (the `winrm-detect` crate for `wasm32-wasip2`) and the
//! Fluent Bit filter module (the same crate for `wasm32-unknown-unknown` with its
//! `fluent-bit` feature: no imports, see `plugin/src/fluent_bit`) so that `cargo run` and
//! `cargo test` need no manual step, and bundles the fixtures into the runner. Like wasmtime's test-programs artifacts, the inner cargo gets its own target
//! directory under OUT_DIR: sharing the outer one would wait forever on its lock.
//!
//! The Fluent Bit module is then rewritten so that a trap cannot leave it broken: see
//! `shadow_stack.rs`. The component is also compiled to machine code here, with the engine
//! configuration the runner uses (`src/engine_config.rs`), so that the runner starts without
//! compiling it (see `Runtime::load_default`).

#[path = "src/engine_config.rs"]
mod engine_config;
#[path = "build/shadow_stack.rs"]
mod shadow_stack;

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The component's target.
const COMPONENT_TARGET: &str = "wasm32-wasip2";
/// The Fluent Bit module's: no operating system, so no import a WASI-less WAMR (Fluent Bit for
/// Windows) could fail to link.
const MODULE_TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir.parent().expect("runner sits in the workspace").to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));

    for watched in [
        "runner/build",
        "runner/src/engine_config.rs",
        "plugin/src",
        "plugin/Cargo.toml",
        "wit",
        "Cargo.lock",
        "fixtures",
        ".cargo/config.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=WINRM_DETECT_GUEST_SYMBOLS");

    for target in [COMPONENT_TARGET, MODULE_TARGET] {
        ensure_target(&root, target);
    }
    let component = build_guest(&root, &out_dir, COMPONENT_TARGET, &[]);
    println!("cargo:rustc-env=WINRM_DETECT_COMPONENT={}", component.display());
    let precompiled = precompile(&component, &out_dir);
    println!("cargo:rustc-env=WINRM_DETECT_COMPONENT_CWASM={}", precompiled.display());
    let module = build_guest(&root, &out_dir, MODULE_TARGET, &["--features", "fluent-bit"]);
    let module = shadow_stack::reset_on_entry(&module, keep_names());
    println!("cargo:rustc-env=WINRM_DETECT_FLUENT_BIT={}", module.display());
    bundle_fixtures(&root, &out_dir);
}

fn rustup_available() -> bool {
    Command::new("rustup").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// `program` (cargo, rustc, rustup) of the toolchain `rust-toolchain.toml` names, whichever
/// toolchain builds the host: `cargo +nightly fuzz build` must not need a nightly with the
/// wasm targets (nightlies often lack them), and the guests that ship are built by the
/// toolchain the project tests. Under rustup that means its proxies, run from the workspace
/// with the override (`+nightly` sets RUSTUP_TOOLCHAIN, cargo sets RUSTC) taken away; with no
/// rustup there is only the toolchain that runs this script.
fn guest_tool(root: &Path, program: &str) -> Command {
    if !rustup_available() {
        let own = match program {
            "cargo" => env::var_os("CARGO"),
            "rustc" => env::var_os("RUSTC"),
            _ => None,
        };
        let mut cmd = Command::new(own.unwrap_or_else(|| program.into()));
        cmd.current_dir(root);
        return cmd;
    }
    let mut cmd = Command::new(program);
    cmd.current_dir(root).env_remove("RUSTUP_TOOLCHAIN").env_remove("RUSTC").env_remove("RUSTDOC");
    cmd
}

/// The guest target must be installed; with RUSTUP_AUTO_INSTALL=0 nothing adds it for us.
fn ensure_target(root: &Path, target: &str) {
    let installed = guest_tool(root, "rustc")
        .args(["--print", "target-libdir", "--target", target])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .is_some_and(|dir| dir.is_dir());
    if installed {
        return;
    }
    if rustup_available() {
        let status = guest_tool(root, "rustup").args(["target", "add", target]).status();
        if status.is_ok_and(|s| s.success()) {
            return;
        }
    }
    panic!(
        "the Rust target {target} is not installed and could not be added.\n\
         Fix: rustup target add wasm32-wasip2 wasm32-unknown-unknown"
    );
}

/// For profiling the guests: keep their function names.
fn keep_names() -> bool {
    env::var_os("WINRM_DETECT_GUEST_SYMBOLS").is_some()
}

fn build_guest(root: &Path, out_dir: &Path, target: &str, features: &[&str]) -> PathBuf {
    let target_dir = out_dir.join("guest");
    let mut cmd = guest_tool(root, "cargo");
    cmd.args([
        "rustc",
        "--release",
        "--locked",
        "-p",
        "winrm-detect",
        "--lib",
        "--crate-type",
        "cdylib",
        "--target",
        target,
    ])
    .args(features)
    .env("CARGO_TARGET_DIR", &target_dir)
    // The guest ships inside shippers: small and fast beats quick to build.
    .env("CARGO_PROFILE_RELEASE_LTO", "true")
    .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
    .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3")
    // The names stay for the Fluent Bit module's rewrite (it finds `__stack_pointer` by
    // name), which drops them unless they are wanted for profiling (`WINRM_DETECT_PERFMAP`).
    .env("CARGO_PROFILE_RELEASE_STRIP", if keep_names() || target == MODULE_TARGET { "debuginfo" } else { "symbols" })
    // The outer build's flags and wrappers (clippy's, coverage's) are for the host.
    .env_remove("CARGO_ENCODED_RUSTFLAGS")
    .env_remove("RUSTFLAGS")
    .env_remove("RUSTC_WRAPPER")
    .env_remove("RUSTC_WORKSPACE_WRAPPER")
    .env_remove("CARGO_BUILD_RUSTFLAGS")
    .env_remove("CARGO_MAKEFLAGS");
    let status = cmd.status().expect("run cargo for the guest");
    assert!(status.success(), "building winrm-detect for {target} failed");
    let wasm = target_dir.join(target).join("release").join("winrm_detect.wasm");
    assert!(wasm.is_file(), "no component at {}", wasm.display());
    wasm
}

/// The component compiled for this machine by the wasmtime the runner links (same version, same
/// configuration): what `Component::deserialize` may load.
fn precompile(component: &Path, out_dir: &Path) -> PathBuf {
    let engine = wasmtime::Engine::new(&engine_config::engine_config()).expect("a wasmtime engine");
    let bytes = fs::read(component).expect("read the component");
    let compiled = engine.precompile_component(&bytes).expect("precompile the component");
    let path = out_dir.join("winrm_detect.cwasm");
    fs::write(&path, compiled).expect("write the precompiled component");
    path
}

/// `fixtures/events/*` become `FIXTURES: &[(&str, &[u8])]`, scanned when the runner is
/// started with no file and a terminal on stdin.
fn bundle_fixtures(root: &Path, out_dir: &Path) {
    let dir = root.join("fixtures").join("events");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    files.sort();
    let mut code = String::from("pub const FIXTURES: &[(&str, &[u8])] = &[\n");
    for f in files {
        let name = f.strip_prefix(root).expect("under root").display().to_string();
        code.push_str(&format!("    ({name:?}, include_bytes!({:?})),\n", f.display().to_string()));
    }
    code.push_str("];\n");
    fs::write(out_dir.join("fixtures.rs"), code).expect("write fixtures.rs");
}
