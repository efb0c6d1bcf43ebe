# The two commands a newcomer runs (see README.md):
#   make run    set up, build, run the main job
#   make check  set up, build, run every test (also under ASan+UBSan with gcc and clang, and TSan)
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_CLANG ?= build-clang
BUILD_TSAN ?= build-tsan
JOBS ?= $(shell nproc)

.PHONY: all setup setup-test build build-asan build-clang build-tsan run check bench clean

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

# STYLE.md's CI jobs: clang with ASan+UBSan, and one TSan job.
build-clang: setup-test
	CC=clang cmake -S . -B $(BUILD_CLANG) -DCMAKE_BUILD_TYPE=Debug -DFT_WERROR=ON \
	  -DFT_SANITIZE="address;undefined" >/dev/null
	cmake --build $(BUILD_CLANG) -j$(JOBS)

build-tsan: setup-test
	cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=Debug -DFT_SANITIZE=thread >/dev/null
	cmake --build $(BUILD_TSAN) -j$(JOBS)

run: build
	tools/run.sh $(BUILD)

check: setup-test build build-asan build-clang build-tsan
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) -LE bench
	ctest --test-dir $(BUILD_ASAN) --output-on-failure -j$(JOBS) -L 'unit|fuzz-replay'
	ctest --test-dir $(BUILD_CLANG) --output-on-failure -j$(JOBS) -L 'unit|fuzz-replay'
	ctest --test-dir $(BUILD_TSAN) --output-on-failure -j$(JOBS) -L unit -LE slow --timeout 1200

bench: setup-test
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DFT_BUILD_BENCH=ON >/dev/null
	cmake --build $(BUILD) -j$(JOBS)
	bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_CLANG) $(BUILD_TSAN)
