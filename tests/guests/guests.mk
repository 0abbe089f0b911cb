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

.PHONY: guests
guests: $(HOSTILE_ELF)

$(BUILD)/guests/%.elf: $(HOSTILE_DIR)/%.c $(HOSTILE_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_GUEST) -Iguest -I$(HOSTILE_DIR) $(LDFLAGS_GUEST) -o $@ $(HOSTILE_RUNTIME) $<
