# Thin wrapper over CMake + Ninja. `make demo` and `make test` work on a fresh
# Debian machine as root: they install whatever packages are missing first.
BUILD    ?= build
JOBS     ?= $(shell nproc)
CORPORA  ?= $(CURDIR)/../shared/corpora
DEMO_OUT ?= $(CURDIR)/out/demo

.PHONY: all deps configure build demo test bench sanitize fuzz format clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

demo: configure
	@cmake --build $(BUILD) -j $(JOBS) --target moat
	@CORPORA=$(CORPORA) OUT=$(DEMO_OUT) scripts/demo.sh

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

bench: build
	@CORPORA=$(CORPORA) scripts/bench.sh

# Address + undefined-behaviour sanitizers over the whole test suite.
sanitize: deps
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOAT_SANITIZE=ON -DMOAT_BENCH=OFF >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@ctest --test-dir build-asan --output-on-failure -j $(JOBS)

# libFuzzer on the line decoder (clang); FUZZ_SECONDS bounds the run.
FUZZ_SECONDS ?= 60
fuzz: deps
	@CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOAT_FUZZ=ON -DMOAT_TESTS=OFF -DMOAT_BENCH=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target line_decoder_fuzz
	@mkdir -p build-fuzz/corpus && build-fuzz/tests/fuzz/line_decoder_fuzz -max_total_time=$(FUZZ_SECONDS) build-fuzz/corpus tests/fuzz/corpus/line_decoder

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-fuzz out
