# The front door: every target installs what is missing first, then builds with CMake presets.
# make demo | test | build | bench | stress | fuzz | package | clean

JOBS   ?= 2
PRESET ?= default
BUILD  := $(if $(filter default,$(PRESET)),build,build-$(PRESET))

.PHONY: all deps configure build test demo bench stress fuzz package clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@if [ ! -f $(BUILD)/build.ninja ]; then cmake --preset $(PRESET) >/dev/null; fi

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) --timeout 300

demo: build
	@$(BUILD)/bin/people
	@bash scripts/demo.sh $(BUILD)

bench: build
	@set -e; for b in $(BUILD)/bin/*_bench; do echo "== $$b"; $$b --benchmark_min_time=0.5 $(BENCH_ARGS); done

# Longer crash-safety runs: many more SIGKILLs than make test does, at random times (300) and
# aimed at each phase (100 per phase).
stress: build
	@CAPDB_KILL_ROUNDS=$${CAPDB_KILL_ROUNDS:-300} CAPDB_KILLS_PER_PHASE=$${CAPDB_KILLS_PER_PHASE:-100} \
	  $(BUILD)/bin/migrate_tests --gtest_filter='MigrationKill*:CrashTest*'

# libFuzzer targets (tests/fuzz/README.md), built with clang in build-fuzz/, each run for
# FUZZ_SECONDS on a working corpus in build-fuzz/corpus/ (the repository's seeds are read, never
# written). Fails on the first target that finds a crash; its input is left in build-fuzz/findings/.
FUZZ_SECONDS ?= 120
FUZZ_TARGETS ?= sql_fuzz import_fuzz record_fuzz key_fuzz schema_fuzz

fuzz:
	@bash scripts/install-deps.sh fuzz
	@if [ ! -f build-fuzz/build.ninja ]; then cmake --preset fuzz >/dev/null; fi
	@cmake --build build-fuzz -j$(JOBS) --target $(FUZZ_TARGETS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	  echo "== $$t ($(FUZZ_SECONDS) s)"; \
	  mkdir -p build-fuzz/corpus/$$t build-fuzz/findings/$$t; \
	  build-fuzz/bin/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    $$( [ -f tests/fuzz/$$t.dict ] && echo -dict=tests/fuzz/$$t.dict ) \
	    -artifact_prefix=build-fuzz/findings/$$t/ \
	    build-fuzz/corpus/$$t tests/fuzz/corpus/$$t 2>build-fuzz/$$t.log \
	    || { tail -n 40 build-fuzz/$$t.log; echo "fuzz: $$t found a crash: build-fuzz/findings/$$t/"; exit 1; }; \
	  grep -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units' build-fuzz/$$t.log | tail -n 2; \
	done

# A Debian package (libcapdb-dev) of what `cmake --install` installs, in $(BUILD)/.
package: build
	@bash scripts/install-deps.sh package
	@cd $(BUILD) && cpack -G DEB

clean:
	@rm -rf $(BUILD) build-debug build-asan build-fuzz
