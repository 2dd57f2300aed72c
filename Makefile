# cote — see README.md. `make run` starts the development server,
# `make test` installs what the tests need and runs every check.

GO        ?= go
BIN       := bin
# As root the development state must be reachable by the unprivileged
# uids the roles drop to, so it lives outside a possibly private home.
DEV_DIR   ?= $(if $(filter 0,$(shell id -u)),/var/tmp/cote-dev,$(CURDIR)/dev-state)
TEST_FLAGS ?= -race -shuffle=on -timeout 20m

.PHONY: all build run test deps lint unit fuzz-smoke clean

all: build

build:
	$(GO) build -o $(BIN)/cote ./cmd/cote

run: build
	$(BIN)/cote --dev $(DEV_DIR)

deps:
	sh scripts/test-deps.sh

lint:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

unit:
	$(GO) test $(TEST_FLAGS) ./...

test: deps lint unit

clean:
	rm -rf $(BIN) dev-state
