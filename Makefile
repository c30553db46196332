# The README's commands. CMake does the building; this file only names the jobs.
#   make          build (build/)
#   make run      install what is missing, build, run the main job (ipcx bench --quick)
#   make test     install what is missing, build and run every test, normal and ASan+UBSan,
#                 and the threaded shm:// and RPC server pool tests under ThreadSanitizer
#   make install  install the library, header, command, man pages, pkg-config and CMake files
JOBS ?= 2
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
PREFIX ?= /usr/local
CMAKE_FLAGS ?=

.PHONY: all deps build run test test-normal test-asan test-tsan fuzz install clean format

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
	$(MAKE) test-tsan
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

# ThreadSanitizer on the threaded shm:// test (both ends of each channel in one process map
# the segment once, so TSan sees both sides' accesses to the rings) and on the RPC server's
# pool of threads (rpc misc: many clients, hand-overs between pool threads). Older TSan
# runtimes (GCC 12's among them) abort with "unexpected memory mapping" when the kernel
# randomises more address bits than they expect (vm.mmap_rnd_bits 32, as recent
# distributions set it): the run goes through `setarch <arch> -R` (no ASLR for ctest and
# its children) wherever the personality call is allowed, and plainly where it is not (a
# container whose seccomp refuses it).
TSAN_RUN = $(shell setarch $$(uname -m) -R true 2>/dev/null && echo setarch $$(uname -m) -R)

$(TSAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DIPCX_WERROR=ON \
		-DIPCX_SANITIZE=thread -DIPCX_BUILD_EXAMPLES=OFF -DIPCX_BUILD_BENCH=OFF $(CMAKE_FLAGS)

test-tsan: $(TSAN_BUILD)/CMakeCache.txt
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target shm_threads rpc
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		$(TSAN_RUN) ctest --output-on-failure --timeout 300 -R '^(shm_threads|rpc_misc)$$'

fuzz:
	@scripts/fuzz-short

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) build-fuzz
