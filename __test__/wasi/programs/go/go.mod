module wasm-engine.test/gotool

go 1.26
