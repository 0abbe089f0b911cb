# Hardware regression runs on this host's own /dev/kvm (included by the top-level Makefile,
# which defines BUILD and the $(BUILD)/vmm and $(BUILD)/guest.elf rules).
#
#   make hw-regress                 what the host is, the host cells, the nested cells where the
#                                   host can nest (ci/matrix/run-matrix ACCEL=kvm), the report
#   make hw-regress RELOAD_KVM=1    as root, with no other VM running: also every kvm_intel /
#                                   kvm_amd parameter set of ci/matrix/matrix.cfg, then the original
#                                   parameters back (also when interrupted)
#   make hw-regress HW_SIZES="11ff000 1200000" HW_TOUCH=none HW_NESTED=0   a quick one
# Other knobs (CELLS, SHARD, JOBS for the nested part): ci/hw/hw-regress --help.
# Reports: $(BUILD)/hw/report.md and report.json (the answers), runs.tsv, phases.tsv, logs/;
# the nested cells' own reports in $(BUILD)/hw/nested/.
# Exit: 0 passed or skipped, 1 a run failed, 3 parameters not restored (see the report), 130.

BUILD ?= build
HW_OUT ?= $(BUILD)/hw

.PHONY: hw-regress
hw-regress: $(BUILD)/vmm $(BUILD)/guest.elf
	VMM=$(BUILD)/vmm HW_OUT=$(HW_OUT) ci/hw/hw-regress
