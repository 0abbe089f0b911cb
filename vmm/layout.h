/* The memory map as pure arithmetic: no ioctls, no I/O. Everything that needs
 * to know where things are (KVM slots, guest page tables, boot info, -v,
 * error messages) reads the structures computed here. */
#ifndef SCRATCHRIG_LAYOUT_H
#define SCRATCHRIG_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"

#define SR_GPA_TOP_32 0xFFFFFFFFULL
#define SR_GPA_TOP_36 0xFFFFFFFFFULL
#define SR_GPA_TOP_MAX 0x3FFFFFFFFFULL /* 256 GiB: what one page-table area maps */
/* The guest-physical address widths (MAXPHYADDR, CPUID 0x80000008 EAX[7:0]) the
 * kernel can have: KVM maps no gfn above the host's (kvm_mmu_max_gfn(),
 * arch/x86/kvm/mmu.h: the host MAXPHYADDR with EPT/NPT, 52 without), and x86
 * defines none beyond 52. */
#define SR_PHYS_BITS_MIN 32
#define SR_PHYS_BITS_MAX 52
#define SR_MAX_RANGES 32
#define SR_MAX_SLOTS (SR_MAX_RANGES + 8)

/* A guest-physical range [base, base + size). `what` is a static label. */
struct sr_range {
	uint64_t base;
	uint64_t size;
	const char *what;
};

/* A sorted list of non-overlapping ranges. */
struct sr_ranges {
	unsigned count;
	struct sr_range r[SR_MAX_RANGES];
};

enum sr_layout { SR_LAYOUT_SPLIT, SR_LAYOUT_SINGLE, SR_LAYOUT_CHECK };

struct sr_slot {
	uint32_t id;
	uint64_t gpa;
	uint64_t size;
	uint64_t host_offset; /* into the one scratch mapping */
};

/* Scratch as KVM sees it: where it is, which holes it skips, its slots. */
struct sr_scratch {
	uint64_t top; /* last scratch byte */
	uint64_t base;
	uint64_t size;
	struct sr_ranges holes; /* inside [base, top], never registered */
	/* Pages the guest leaves alone: the holes, plus device pages that RAM
	 * covers under --layout single (whether RAM or the device answers there
	 * depends on the host, so neither may be tested). */
	struct sr_ranges untouched;
	unsigned slot_count;
	struct sr_slot slots[SR_MAX_RANGES + 1];
};

static inline uint64_t sr_range_end(const struct sr_range *r) /* last byte */
{
	return r->base + r->size - 1;
}

bool sr_overlaps(uint64_t a_base, uint64_t a_size, uint64_t b_base, uint64_t b_size);

/* Parse a size or address: hex (0x...), decimal, or decimal/hex with a K, M,
 * G or T suffix (binary units). Returns NULL or a description of the error. */
const char *sr_parse_u64(const char *text, uint64_t *out);

/* Parse --gpa-top: "32", "36" or an explicit last address. */
const char *sr_parse_gpa_top(const char *text, uint64_t *top);

/* The address width a range ending at byte `last` needs: the position of
 * its highest set bit, plus one (0xffffffff: 32; 0xfffffffff: 36). */
unsigned sr_phys_bits_needed(uint64_t last);

/* Whether scratch ending at `top` fits a host whose guest-physical space has
 * `phys_bits` bits: NULL, or one line naming both widths and what to do
 * (written to buf). */
const char *sr_check_phys_bits(uint64_t top, unsigned phys_bits, char *buf, size_t size);

/* Largest scratch size below `top` for which a scratch of that size is legal:
 * it must leave [0, SR_LOW_END_GPA) free. */
uint64_t sr_scratch_size_limit(uint64_t top);

/* Check a scratch size against the rules; NULL or the broken rule. */
const char *sr_check_scratch_size(uint64_t top, uint64_t size);

static inline uint64_t sr_scratch_base(uint64_t top, uint64_t size)
{
	return top - size + 1;
}

/* Insert [base, base+size), merging with overlapping or adjacent ranges.
 * Returns false when the list is full. */
bool sr_ranges_add(struct sr_ranges *list, uint64_t base, uint64_t size, const char *what);

/* The first range of `list` that overlaps [base, base+size), or NULL. */
const struct sr_range *sr_ranges_first_overlap(const struct sr_ranges *list, uint64_t base,
					       uint64_t size);

/* Total bytes of `list` inside [base, base+size). */
uint64_t sr_ranges_bytes_within(const struct sr_ranges *list, uint64_t base, uint64_t size);

/* Largest scratch size under `top` that overlaps no range of `list` and leaves
 * the low region free (0 when nothing fits). */
uint64_t sr_largest_fitting_size(uint64_t top, const struct sr_ranges *list);

/* Lay out scratch: with `split`, the parts of [base, top] outside `avoid`
 * become slots (ids from first_slot_id on); otherwise one slot covers it all.
 * `devices` are pages the guest must not test either way. Host offsets are
 * GPA - base: host memory stays one contiguous mapping. Returns false when
 * there would be more holes than SR_MAX_HOLES. */
bool sr_scratch_layout(struct sr_scratch *out, uint64_t top, uint64_t size, bool split,
		       const struct sr_ranges *avoid, const struct sr_ranges *devices,
		       uint32_t first_slot_id);

/* Scratch pages the guest writes and verifies. */
uint64_t sr_scratch_tested_pages(const struct sr_scratch *s);

#endif
