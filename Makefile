# The two commands a newcomer runs (see README.md):
#   make run    set up, build, run the main job
#   make check  set up, build, run every test (also under ASan+UBSan)
BUILD ?= build
BUILD_ASAN ?= build-asan
JOBS ?= $(shell nproc)

.PHONY: all setup setup-test build build-asan run check check-asan bench clean

all: build

setup:
	tools/setup.sh

setup-test:
	tools/setup.sh --test

build: setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DFT_WERROR=ON >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

build-asan: setup-test
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DFT_SANITIZE="address;undefined" >/dev/null
	cmake --build $(BUILD_ASAN) -j$(JOBS)

run: build
	tools/run.sh $(BUILD)

check: setup-test build build-asan
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) -LE bench
	ctest --test-dir $(BUILD_ASAN) --output-on-failure -j$(JOBS) -L 'unit|fuzz-replay'

bench: setup-test
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DFT_BUILD_BENCH=ON >/dev/null
	cmake --build $(BUILD) -j$(JOBS)
	bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
