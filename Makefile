# The README's commands. CMake does the building; this file only names the jobs.
#   make          build (build/)
#   make run      install what is missing, build, run the main job (ipcx bench --quick)
#   make test     install what is missing, build and run every test, normal and ASan+UBSan
#   make install  install the library, header, command, man pages, pkg-config and CMake files
JOBS ?= 2
BUILD ?= build
ASAN_BUILD ?= build-asan
PREFIX ?= /usr/local
CMAKE_FLAGS ?=

.PHONY: all deps build run test test-normal test-asan fuzz install clean format

all: build

deps:
	@scripts/deps

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIPCX_WERROR=ON \
		-DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

run: deps build
	$(BUILD)/tools/ipcx/ipcx bench --quick

test: deps
	$(MAKE) test-normal
	$(MAKE) fuzz
	$(MAKE) test-asan

test-normal: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 300

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DIPCX_WERROR=ON \
		-DIPCX_SANITIZE=address,undefined $(CMAKE_FLAGS)

test-asan: $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		ctest --output-on-failure -j$(JOBS) --timeout 600

fuzz:
	@scripts/fuzz-short

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
