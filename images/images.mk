# L1 images for the nested matrix, from Debian packages only (included by the top-level Makefile).
#
#   make images                         image for the kernel of linux-image-amd64
#   make images KERNEL=6.12.117+deb12-amd64
#   make images IMAGE_KERNELS="A B"     several at once
#
# Outputs, one directory per kernel version so several kernels coexist:
#   $(BUILD)/images/<kver>/vmlinuz            copy of /boot/vmlinuz-<kver>
#   $(BUILD)/images/<kver>/initramfs.cpio.gz  busybox-static, KVM modules (from modules.dep),
#                                             vmm, guest.elf, kvm-as, images/init and the
#                                             ci/lib/*.sh it sources (/rig/lib),
#                                             tests/kvm-as/*.strace (rig.replay)
# Every input is a prerequisite, so a rebuild with nothing changed does nothing.

BUILD ?= build
RIG_BOOT ?= /boot
RIG_MODROOT ?= /lib/modules
RIG_BUSYBOX ?= /bin/busybox

# Default kernel: the version linux-image-amd64 depends on, else the newest /boot/vmlinuz-*.
RIG_DEFAULT_KERNEL := $(shell dpkg-query -W -f='$${Depends}' linux-image-amd64 2>/dev/null | \
	sed -n 's/^linux-image-\([^ ,]*\).*/\1/p')
ifeq ($(RIG_DEFAULT_KERNEL),)
RIG_DEFAULT_KERNEL := $(patsubst $(RIG_BOOT)/vmlinuz-%,%,$(lastword $(sort $(wildcard $(RIG_BOOT)/vmlinuz-*))))
endif
KERNEL ?= $(RIG_DEFAULT_KERNEL)
IMAGE_KERNELS ?= $(KERNEL)

RIG_TRACES := tests/kvm-as
RIG_IMAGE_INPUTS := images/init images/mkinitramfs images/images.mk $(BUILD)/vmm $(BUILD)/guest.elf \
	$(BUILD)/kvm-as $(wildcard $(RIG_TRACES)/*.strace) $(wildcard ci/lib/*.sh)

# rig_image_rules KVER: the two outputs of one kernel, or a rule that says what is missing.
define rig_image_rules
ifneq ($(wildcard $(RIG_BOOT)/vmlinuz-$(1)),)
$(BUILD)/images/$(1)/vmlinuz: $(RIG_BOOT)/vmlinuz-$(1)
	@mkdir -p $$(@D)
	cp $$< $$@.tmp && mv -f $$@.tmp $$@

$(BUILD)/images/$(1)/initramfs.cpio.gz: $(RIG_IMAGE_INPUTS) $(RIG_MODROOT)/$(1)/modules.dep \
		$(shell MODROOT=$(RIG_MODROOT) images/mkinitramfs --list-modules $(1) 2>/dev/null) \
		$(RIG_BUSYBOX)
	MODROOT=$(RIG_MODROOT) BUSYBOX=$(RIG_BUSYBOX) images/mkinitramfs $(1) $$@ \
		$(BUILD)/vmm $(BUILD)/guest.elf images/init $(BUILD)/kvm-as $(RIG_TRACES)
else
$(BUILD)/images/$(1)/vmlinuz $(BUILD)/images/$(1)/initramfs.cpio.gz:
	@echo "images: no kernel '$(1)': $(RIG_BOOT)/vmlinuz-$(1) is missing (apt-get install linux-image-$(1), or make kernels)" >&2
	@exit 2
endif
endef

$(foreach k,$(IMAGE_KERNELS),$(eval $(call rig_image_rules,$(k))))

.PHONY: images
images: $(foreach k,$(IMAGE_KERNELS),$(BUILD)/images/$(k)/vmlinuz $(BUILD)/images/$(k)/initramfs.cpio.gz)
ifeq ($(strip $(IMAGE_KERNELS)),)
	@echo "images: no kernel found: install linux-image-amd64 or pass KERNEL=<version>" >&2
	@exit 2
endif

# The kernel `make images` uses by default (tests ask make rather than guess).
.PHONY: images-kernel
images-kernel:
	@echo $(KERNEL)

# The kernel of the tools and tests that boot ONE L1 (ci/peer, ci/bochs/prove-patches, the
# Intel smoke and yama suites): the newest 6.12 in /boot (it boots faster under Bochs, and the
# selftests come from its source), else KERNEL. Looked up only when asked.
RIG_L1_KERNEL = $(shell find $(RIG_BOOT) -maxdepth 1 -name 'vmlinuz-6.12.*' -printf '%f\n' 2>/dev/null | \
	sed 's/^vmlinuz-//' | sort -V | tail -n 1)
.PHONY: l1-kernel
l1-kernel:
	@echo $(or $(RIG_L1_KERNEL),$(KERNEL))
