/* Guest image and the long-mode machine state it starts in. */
#ifndef SCRATCHRIG_LOADER_H
#define SCRATCHRIG_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm.h"

#define SR_MAX_IMAGE_BYTES (16u << 20)

/* Validate an ELF64 x86-64 executable whose loadable segments all lie in the
 * image window [SR_IMAGE_GPA, SR_IMAGE_END_GPA) and whose entry point is in
 * an executable segment. Returns NULL or what is wrong. Pure. */
const char *sr_elf_validate(const void *image, size_t size, uint64_t *entry);

/* Copy the validated image's segments into guest memory `low` (the low
 * region, identity-mapped at GPA 0) and zero their BSS. */
void sr_elf_load(const void *image, uint8_t *low);

/* Read the file at `path` into a malloc'd buffer (exit 2 on failure). */
void *sr_read_image(const char *path, size_t *size);

/* Identity-map [0, map_end) with 1 GiB pages (or 2 MiB without them) in the
 * page-table area of `low`; returns the number of page-table pages. Pure. */
unsigned sr_build_page_tables(uint8_t *low, uint64_t map_end, bool gb_pages);

/* GDT, then registers: 64-bit long mode at `entry`, RDI = boot info. */
void sr_enter_long_mode(struct sr_vm *vm, uint8_t *low, uint64_t entry);

#endif
