# Hostile guests for tests/050-hostile.bats: each tests/guests/NAME.c (with
# lib.c and guest/entry.S) linked exactly like $(BUILD)/guest.elf into
# $(BUILD)/guests/NAME.elf. Included from the top-level Makefile, which
# defines CC, CFLAGS_GUEST, LDFLAGS_GUEST and BUILD.
HOSTILE_DIR := tests/guests
HOSTILE_SRC := $(filter-out $(HOSTILE_DIR)/lib.c,$(wildcard $(HOSTILE_DIR)/*.c))
HOSTILE_ELF := $(patsubst $(HOSTILE_DIR)/%.c,$(BUILD)/guests/%.elf,$(HOSTILE_SRC))
HOSTILE_DEPS := $(HOSTILE_DIR)/lib.c $(wildcard $(HOSTILE_DIR)/*.h) guest/entry.S guest/guest.ld \
	vmm/abi.h $(HOSTILE_DIR)/guests.mk

.PHONY: guests
guests: $(HOSTILE_ELF)

$(BUILD)/guests/%.elf: $(HOSTILE_DIR)/%.c $(HOSTILE_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_GUEST) -I$(HOSTILE_DIR) $(LDFLAGS_GUEST) -o $@ guest/entry.S $(HOSTILE_DIR)/lib.c $<
