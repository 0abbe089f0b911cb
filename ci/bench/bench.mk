# `make bench`: whole-process timings of the rig against minimal reference programs, as
# ratios taken in one run (hyperfine, gnuplot). Included by the top-level Makefile, which
# defines BUILD, CC, WARN and the $(BUILD)/vmm and $(BUILD)/guest.elf rules.
#
#   make bench                      build the references into $(BUILD)/bench/ and run ci/bench/run
#   make bench BENCH_ARGS=--quick   fewer runs and sizes (a smoke run, figures not comparable)
# ci/bench/run --help lists its environment (nested timings, strict exit on a missed target).
# Outputs: $(BUILD)/bench/results.json, report.md, *.png, hyperfine/*.json.

BUILD ?= build
CC ?= cc
BENCH_DIR := $(BUILD)/bench
BENCH_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE
BENCH_PROGS := $(BENCH_DIR)/minimal-kvm $(BENCH_DIR)/minimal-touch $(BENCH_DIR)/host-touch \
	$(BENCH_DIR)/slot-calls $(BENCH_DIR)/paired
BENCH_ARGS ?=
# The ptrace floor: kvm-as's own filter (filter.c and the ioctl table it reads, with what that
# table links), built as kvm-as is (KVMAS_CC, static: the same start-up cost), after kvm-as
# (which makes musl's uapi links).
FLOOR_TRACER := $(BENCH_DIR)/floor-tracer
FLOOR_SRC := ci/bench/floor-tracer.c vmm/kvm-as/launch.c vmm/kvm-as/diagnose.c vmm/kvm-as/filter.c vmm/kvm-as/kvm_calls.c \
	vmm/kvm-as/strace_parse.c vmm/kvm-as/textbuf.c vmm/hostmodel.c vmm/layout.c

# For ci/bench/l1-pairs (the pairs inside a TCG L1, which has no libc): static builds.
BENCH_L1_PROGS := $(BENCH_DIR)/l1/paired $(BENCH_DIR)/l1/slot-calls

.PHONY: bench bench-progs
bench-progs: $(BENCH_PROGS) $(FLOOR_TRACER) $(BENCH_L1_PROGS)

$(BENCH_L1_PROGS): $(BENCH_DIR)/l1/%: ci/bench/%.c ci/bench/bench.mk | $(BUILD)/kvm-as
	@mkdir -p $(@D)
	$(KVMAS_CC) $(BENCH_CFLAGS) -static -o $@ $< -lm

$(BENCH_PROGS): $(BENCH_DIR)/%: ci/bench/%.c ci/bench/bench.mk
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -o $@ $< -lm

$(FLOOR_TRACER): $(FLOOR_SRC) $(wildcard vmm/kvm-as/*.h) vmm/hostmodel.h vmm/layout.h ci/bench/bench.mk \
		| $(BUILD)/kvm-as
	@mkdir -p $(@D)
	$(KVMAS_CC) $(CFLAGS_VMM) -Ivmm -Ivmm/kvm-as -static -o $@ $(FLOOR_SRC)

bench: $(BUILD)/vmm $(BUILD)/guest.elf $(BUILD)/kvm-as $(BENCH_PROGS) $(FLOOR_TRACER) $(BENCH_L1_PROGS)
	BUILD=$(BUILD) ci/bench/run $(BENCH_ARGS)
