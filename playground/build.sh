#!/usr/bin/env bash
# Builds the playground as a static site: the page (playground/www) and the winrm-detect library
# compiled for wasm32-unknown-unknown and bound by wasm-bindgen (pkg/ beside the page).
#
#   playground/build.sh [OUT]     default OUT: target/playground/site
#   playground/build.sh --tools   only install what the build needs
#
# It installs what it needs: the wasm32-unknown-unknown target and the wasm-bindgen CLI of
# exactly the version Cargo.lock holds for the wasm-bindgen crate (the two must agree).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
[ -n "$version" ] || { echo "build.sh: no wasm-bindgen in Cargo.lock" >&2; exit 1; }

# RUSTUP_AUTO_INSTALL=0: nothing installs itself.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi
if ! wasm-bindgen --version 2>/dev/null | grep -qF " $version"; then
    echo "build.sh: installing wasm-bindgen-cli $version (a few minutes, once)" >&2
    cargo install wasm-bindgen-cli --version "$version"
fi
[ "${1:-}" = "--tools" ] && exit 0

out="${1:-$root/target/playground/site}"
# Its own target directory: the browser test runs this script from inside `cargo test`, which
# holds the workspace target directory's lock until it ends.
target_dir="$root/target/playground/cargo"
CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_OPT_LEVEL=s \
    CARGO_PROFILE_RELEASE_STRIP=debuginfo \
    cargo rustc --release --locked -p winrm-detect-playground --lib --crate-type cdylib \
    --target wasm32-unknown-unknown --target-dir "$target_dir"

rm -rf "$out"
mkdir -p "$out"
cp playground/www/* "$out/"
wasm-bindgen --target web --no-typescript --out-dir "$out/pkg" \
    "$target_dir/wasm32-unknown-unknown/release/winrm_detect_playground.wasm"
echo "build.sh: site in $out ($(wc -c < "$out/pkg/winrm_detect_playground_bg.wasm") bytes of wasm)" >&2
