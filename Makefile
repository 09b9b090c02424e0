# Everyday commands. The two that matter on a fresh machine:
#   make run    - the API on http://127.0.0.1:8000 with the embedded SQLite database
#   make test   - the whole test suite (set TEST_DATABASE_URL / TEST_REDIS_URL for PostgreSQL and Redis)

PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres

.PHONY: run test test-postgres lint fmt migrate openapi bench bench-telemetry check-layers ci

run:
	cargo run --release

test:
	cargo test --workspace --locked

test-postgres:
	TEST_DATABASE_URL=$(PG_URL) TEST_REDIS_URL=redis://127.0.0.1:6379 cargo test --workspace --locked

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	bash .ci/check-layers

fmt:
	cargo fmt --all

migrate:
	cargo run --release -- migrate up

openapi:
	cargo run --release -- openapi > docs/openapi.json

# Load runs on SQLite and PostgreSQL beside the reference servers; writes docs/performance.md.
bench:
	bash scripts/bench.sh

# What /metrics and OTLP traces cost in throughput; writes docs/performance.md's telemetry section.
bench-telemetry:
	bash scripts/bench-telemetry.sh

ci:
	bash .ci/run
