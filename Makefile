# berth — make targets. `make test` is what CI runs.
GO      ?= go
PKGS    ?= ./...
BENCH   ?= .
BENCHTIME ?= 1x

.PHONY: all build test lint bench load fuzz tidy-check clean

all: lint test build

build:
	$(GO) build -o bin/berth ./cmd/berth

# -trimpath matches the flags action/run.sh builds berth with, so the action
# test's real build reuses the packages compiled here instead of compiling
# every dependency again (minutes on a fresh CI machine).
test:
	$(GO) test -race -trimpath -count=1 $(PKGS)

lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Benchmarks on generated catalogs; see BENCHMARKS.md for the figures.
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -benchmem $(PKGS)

# Load test of berth serve's read API with wrk over 100k generated
# entities, from a separate process (cmd/berth/testdata/load/README.md).
load:
	cmd/berth/testdata/load/load.sh all

# Short fuzz runs of every fuzz target (longer: FUZZTIME=5m make fuzz).
FUZZTIME ?= 20s
fuzz:
	$(GO) test ./pkg/catalog -run '^$$' -fuzz FuzzParseFile -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/query -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/edit -run '^$$' -fuzz FuzzPatchPermissions -fuzztime $(FUZZTIME)

tidy-check:
	$(GO) mod tidy && git diff --exit-code go.mod go.sum

clean:
	rm -rf bin
