# Nested-VM CI targets (included by the top-level Makefile).
#
#   make kernels        install every L1 kernel package ci/matrix/matrix.cfg lists (idempotent; root)
#   make ci-matrix      the full matrix (ci/matrix/run-matrix), docs/findings.md
#                       (ci/matrix/findings), then tests/matrix/ over their results;
#                       fails when any cell fails or times out. ACCEL=tcg|kvm|auto, CELLS=glob,
#                       SHARD=i/n, JOBS=n narrow or spread it (see ci/matrix/run-matrix --help).
#   make nested-smoke   the small nested smoke (tests/070-nested-smoke.bats, also in make test)
#   make stress         repeated interrupt smoke boots (TCG and Bochs) while busy TCG L1s load
#                       every core (ci/l1/stress-l1; STRESS_ARGS="--rounds 20", report build/stress/)
# Reports: build/ci/summary.md, junit.xml, logs/<cell>/. MATRIX=FILE (another table) and
# CI_OUT=DIR pass through to ci/matrix/run-matrix; `make kernels` then checks that table's kernels.

CI_MATRIX_CFG := $(or $(MATRIX),ci/matrix/matrix.cfg)
CI_KERNEL_PACKAGES := $(shell sed -n 's/^[[:space:]]*package[[:space:]]*=[[:space:]]*//p' $(CI_MATRIX_CFG) 2>/dev/null)

.PHONY: kernels ci-matrix nested-smoke stress

kernels:
	@missing=; for p in $(CI_KERNEL_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "kernels: installed: $(CI_KERNEL_PACKAGES)"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "kernels: missing$$missing; run as root: apt-get install$$missing" >&2; exit 2; fi; \
	echo "kernels: installing$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y --no-install-recommends $$missing || \
		{ apt-get update && apt-get install -y --no-install-recommends $$missing; }

# run-matrix builds the images it needs itself (make images, a no-op when up to date).
# Ctrl-C, or SIGTERM to make (which make passes to this shell only), becomes SIGTERM to
# run-matrix, which stops its QEMUs and removes its temp files; this shell waits for that.
ci-matrix: all kernels bochs-if-possible
	@pid=; trap 'test -z "$$pid" || { kill -TERM $$pid 2>/dev/null; wait $$pid; }; exit 130' INT TERM HUP; \
	ci/matrix/run-matrix & pid=$$!; \
	rc=0; wait $$pid || rc=$$?; \
	test $$rc != 130 || exit 130; \
	frc=0; ci/matrix/findings $(or $(CI_OUT),build/ci) || frc=$$?; \
	test $$frc = 0 || test $$frc = 3 || rc=1; \
	bats --tap tests/matrix || rc=1; \
	exit $$rc

nested-smoke: all images
	bats --tap tests/070-nested-smoke.bats

stress: all images
	ci/l1/stress-l1 $(STRESS_ARGS) $(BUILD)/stress
