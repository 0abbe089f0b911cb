# Hostile guests for tests/050-hostile.bats: each tests/guests/NAME.c (with
# the guest's runtime: entry, IDT stubs, lib.c) linked exactly like $(BUILD)/guest.elf into
# $(BUILD)/guests/NAME.elf. Included from the top-level Makefile, which
# defines CC, CFLAGS_GUEST, LDFLAGS_GUEST and BUILD.
HOSTILE_DIR := tests/guests
HOSTILE_SRC := $(wildcard $(HOSTILE_DIR)/*.c)
HOSTILE_ELF := $(patsubst $(HOSTILE_DIR)/%.c,$(BUILD)/guests/%.elf,$(HOSTILE_SRC))
HOSTILE_RUNTIME := guest/entry.S guest/interrupts.S guest/apic.c guest/lib.c
HOSTILE_DEPS := $(HOSTILE_RUNTIME) guest/guest.h $(wildcard $(HOSTILE_DIR)/*.h) guest/guest.ld \
	vmm/abi.h $(HOSTILE_DIR)/guests.mk

# A boot sector for QEMU (SeaBIOS boots it): a foreign VMM's boot with a fixed serial line
# and exit code, for tests/100-kvm-as.bats and the kvm-as bench.
QEMU_BOOT := $(BUILD)/guests/qemu-boot.img

.PHONY: guests
guests: $(HOSTILE_ELF) $(QEMU_BOOT)

$(QEMU_BOOT): $(HOSTILE_DIR)/qemu-boot.S $(HOSTILE_DIR)/guests.mk
	@mkdir -p $(@D)
	$(CC) -m32 -nostdlib -static -no-pie -Wl,-Ttext=0x7c00,--oformat=binary,-e,_start,--build-id=none -o $@ $<
	@test "$$(stat -c %s $@)" -eq 512 || { echo "$@: not one 512-byte sector" >&2; rm -f $@; exit 1; }

$(BUILD)/guests/%.elf: $(HOSTILE_DIR)/%.c $(HOSTILE_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_GUEST) -Iguest -I$(HOSTILE_DIR) $(LDFLAGS_GUEST) -o $@ $(HOSTILE_RUNTIME) $<
