# The front door: every target installs what is missing first, then builds with CMake presets.
# make demo | test | build | bench | stress | clean

JOBS   ?= 2
PRESET ?= default
BUILD  := $(if $(filter default,$(PRESET)),build,build-$(PRESET))

.PHONY: all deps configure build test demo bench stress clean

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

clean:
	@rm -rf $(BUILD) build-debug build-asan
