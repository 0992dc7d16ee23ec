#!/usr/bin/env bash
# `npm run test:asan`: the stress suite against the addon built with
# AddressSanitizer. Arguments go to the stress suite (`--quick` for the
# bounded run).
#
# The addon is built with the nightly toolchain's `-Zsanitizer=address` into
# target/asan (the normal build is left alone), loaded into an ordinary Node
# through NAPI_RS_NATIVE_LIBRARY_PATH, with LLVM's ASan runtime preloaded:
# Node itself is not instrumented, so what ASan watches is this package's
# Rust, wasmtime included, and every allocation in the process.
#
# ASAN_OPTIONS: wasmtime's bounds checks and stack-overflow detection are
# SIGSEGV handlers of its own, so ASan must leave that signal (and SIGBUS,
# SIGFPE, SIGILL, with which traps arrive) to them; Node's own allocations at
# exit are not leaks of this package, so leak detection is off. ASan keeps
# freed memory in quarantine to catch uses after free, so RSS is not bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "test:asan: needs the nightly Rust toolchain (rustup toolchain install nightly)" >&2
  exit 2
fi
target=x86_64-unknown-linux-gnu
# --target keeps build scripts and proc macros, which run on the build
# machine, out of the instrumentation.
RUSTFLAGS="-Zsanitizer=address" CARGO_TARGET_DIR=target/asan \
  cargo +nightly build --release --target "$target" --lib
addon="$PWD/target/asan/wasm-engine.asan.node"
cp "target/asan/$target/release/libwasm_engine.so" "$addon"

runtime=$(clang -print-file-name=libclang_rt.asan-x86_64.so)
if [[ ! -f $runtime ]]; then
  echo "test:asan: needs LLVM's ASan runtime (libclang_rt.asan-x86_64.so; Debian: apt-get install clang)" >&2
  exit 2
fi
echo "test:asan: $(rustc +nightly --version), runtime $runtime"
export ASAN_OPTIONS="detect_leaks=0:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:allow_user_segv_handler=1:halt_on_error=1:detect_stack_use_after_return=0"
LD_PRELOAD="$runtime" NAPI_RS_NATIVE_LIBRARY_PATH="$addon" \
  node --import=tsx --expose-gc stress/run.ts --no-rss "$@"
