# The two commands that matter: `make run` and `make test`. Everything they need is installed by
# scripts/setup.sh: `make run` only what building needs (wasm target, wasm-bindgen-cli pinned to
# Cargo.lock, wasm-opt); `make test` also the test clients, servers and Chromium.
.PHONY: run build test setup setup-build frontend lint bench fuzz clean

run: build
	./target/release/panoptes serve

build: frontend
	cargo build --release --locked

setup:
	scripts/setup.sh

setup-build:
	scripts/setup.sh --build-only

frontend: setup-build
	scripts/build-frontend.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --locked --all-targets --all-features -- -D warnings
	cargo clippy --locked -p panoptes-frontend --release --target wasm32-unknown-unknown --target-dir target/wasm -- -D warnings

# Unit, integration and browser tests. The dashboard is built first so the binary under test
# embeds it.
test: export PANOPTES_EXPECT_DASHBOARD = 1
test: setup frontend lint
	cargo test --locked --all-features
	scripts/fuzz.sh 30

bench:
	cargo bench --locked --bench store

# Short fuzzing of the ingest parsers (also the last step of `make test`).
fuzz:
	scripts/fuzz.sh 60

clean:
	cargo clean
	rm -rf frontend/dist
