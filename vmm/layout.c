#include "layout.h"

#include <stdio.h>
#include <string.h>

bool sr_overlaps(uint64_t a_base, uint64_t a_size, uint64_t b_base, uint64_t b_size)
{
	if (a_size == 0 || b_size == 0)
		return false;
	/* Compare last bytes, not ends, so ranges that reach 2^64 - 1 work. */
	return a_base <= b_base + (b_size - 1) && b_base <= a_base + (a_size - 1);
}

static int digit_value(char c, unsigned radix)
{
	int v = -1;
	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'a' && c <= 'f')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		v = c - 'A' + 10;
	return v >= 0 && (unsigned)v < radix ? v : -1;
}

static unsigned suffix_shift(const char *s)
{
	static const struct {
		const char *text;
		unsigned shift;
	} suffixes[] = {
		{"K", 10}, {"KiB", 10}, {"M", 20}, {"MiB", 20},
		{"G", 30}, {"GiB", 30}, {"T", 40}, {"TiB", 40},
	};
	for (unsigned i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (strcmp(s, suffixes[i].text) == 0)
			return suffixes[i].shift;
	return 0;
}

const char *sr_parse_u64(const char *text, uint64_t *out)
{
	unsigned radix = 10;
	const char *p = text;
	uint64_t value = 0;

	if (text == NULL || *text == '\0')
		return "is empty";
	if (*p == '-')
		return "is negative";
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		radix = 16;
		p += 2;
	}
	if (digit_value(*p, radix) < 0)
		return "is not a number (use hex 0x..., decimal, or a K/M/G/T suffix)";
	for (int d; (d = digit_value(*p, radix)) >= 0; p++) {
		if (value > (UINT64_MAX - (uint64_t)d) / radix)
			return "does not fit in 64 bits";
		value = value * radix + (uint64_t)d;
	}
	if (*p != '\0') {
		/* In hex, B is a digit: "0x10B" never reaches here with a suffix. */
		unsigned shift = suffix_shift(p);
		if (shift == 0)
			return "has an unknown suffix (use K, M, G or T, binary units)";
		if (value > (UINT64_MAX >> shift))
			return "does not fit in 64 bits";
		value <<= shift;
	}
	*out = value;
	return NULL;
}

const char *sr_parse_gpa_top(const char *text, uint64_t *top)
{
	uint64_t value;
	const char *err;

	if (text != NULL && strcmp(text, "32") == 0) {
		*top = SR_GPA_TOP_32;
		return NULL;
	}
	if (text != NULL && strcmp(text, "36") == 0) {
		*top = SR_GPA_TOP_36;
		return NULL;
	}
	err = sr_parse_u64(text, &value);
	if (err)
		return err;
	if (value < SR_LOW_END_GPA + SR_PAGE_SIZE - 1)
		return "must be 32, 36, or a last address above the low region (0x400000)";
	if (value > SR_GPA_TOP_MAX)
		return "must be at most 0x3fffffffff (256 GiB)";
	if ((value + 1) % SR_PAGE_SIZE != 0)
		return "must be the last byte of a 4 KiB page (e.g. 0xfedfffff)";
	*top = value;
	return NULL;
}

unsigned sr_phys_bits_needed(uint64_t last)
{
	return last ? 64u - (unsigned)__builtin_clzll(last) : 0;
}

const char *sr_check_phys_bits(uint64_t top, unsigned phys_bits, char *buf, size_t size)
{
	unsigned need = sr_phys_bits_needed(top);
	unsigned long long highest;

	if (need <= phys_bits || phys_bits >= 64)
		return NULL;
	highest = (1ULL << phys_bits) - 1;
	snprintf(buf, size,
		 "--gpa-top 0x%llx: beyond this host's %u-bit guest-physical space: scratch's last "
		 "byte needs %u bits (MAXPHYADDR, CPUID 0x80000008: KVM maps nothing above 0x%llx "
		 "and refuses a slot there with EINVAL); use --gpa-top 0x%llx or lower (--gpa-top 36 "
		 "fits every 64-bit host), or a host with MAXPHYADDR %u or more",
		 (unsigned long long)top, phys_bits, need, highest, highest, need);
	return buf;
}

uint64_t sr_scratch_size_limit(uint64_t top)
{
	return top + 1 - SR_LOW_END_GPA;
}

const char *sr_check_scratch_size(uint64_t top, uint64_t size)
{
	if (size == 0)
		return "must not be zero";
	if (size % SR_PAGE_SIZE != 0)
		return "must be a multiple of 4 KiB (0x1000)";
	if (size > sr_scratch_size_limit(top))
		return "is too large: scratch must leave the low region [0, 0x400000) free";
	return NULL;
}

bool sr_ranges_add(struct sr_ranges *list, uint64_t base, uint64_t size, const char *what)
{
	uint64_t last = base + size - 1;
	unsigned i = 0, j;

	if (size == 0)
		return true;
	/* Skip ranges wholly before, not even adjacent. */
	while (i < list->count && sr_range_end(&list->r[i]) < base - 1 && base != 0)
		i++;
	/* Absorb every range that overlaps or touches [base, last]. */
	j = i;
	while (j < list->count &&
	       (list->r[j].base <= last || (last != UINT64_MAX && list->r[j].base == last + 1))) {
		if (list->r[j].base < base) {
			base = list->r[j].base;
			what = list->r[j].what;
		}
		if (sr_range_end(&list->r[j]) > last)
			last = sr_range_end(&list->r[j]);
		j++;
	}
	if (j == i && list->count == SR_MAX_RANGES)
		return false;
	memmove(&list->r[i + 1], &list->r[j], (list->count - j) * sizeof(list->r[0]));
	list->count = list->count - (j - i) + 1;
	list->r[i] = (struct sr_range){.base = base, .size = last - base + 1, .what = what};
	return true;
}

const struct sr_range *sr_ranges_first_overlap(const struct sr_ranges *list, uint64_t base,
					       uint64_t size)
{
	for (unsigned i = 0; i < list->count; i++)
		if (sr_overlaps(list->r[i].base, list->r[i].size, base, size))
			return &list->r[i];
	return NULL;
}

uint64_t sr_ranges_bytes_within(const struct sr_ranges *list, uint64_t base, uint64_t size)
{
	uint64_t total = 0, last = base + size - 1;

	for (unsigned i = 0; i < list->count; i++) {
		const struct sr_range *r = &list->r[i];
		uint64_t lo, hi;
		if (!sr_overlaps(r->base, r->size, base, size))
			continue;
		lo = r->base > base ? r->base : base;
		hi = sr_range_end(r) < last ? sr_range_end(r) : last;
		total += hi - lo + 1;
	}
	return total;
}

uint64_t sr_largest_fitting_size(uint64_t top, const struct sr_ranges *list)
{
	uint64_t floor = SR_LOW_END_GPA; /* scratch may start here at the lowest */

	for (unsigned i = 0; i < list->count; i++) {
		const struct sr_range *r = &list->r[i];
		if (r->base > top)
			break;
		if (sr_range_end(r) >= top)
			return 0;
		if (sr_range_end(r) + 1 > floor)
			floor = sr_range_end(r) + 1;
	}
	return floor > top ? 0 : top - floor + 1;
}

/* Append the parts of `list` inside [base, top] to `out`. */
static bool clip_ranges(struct sr_ranges *out, const struct sr_ranges *list, uint64_t base,
			uint64_t top)
{
	for (unsigned i = 0; i < list->count; i++) {
		const struct sr_range *r = &list->r[i];
		uint64_t lo, hi;
		if (!sr_overlaps(r->base, r->size, base, top - base + 1))
			continue;
		lo = r->base > base ? r->base : base;
		hi = sr_range_end(r) < top ? sr_range_end(r) : top;
		if (!sr_ranges_add(out, lo, hi - lo + 1, r->what) || out->count > SR_MAX_HOLES)
			return false;
	}
	return true;
}

bool sr_scratch_layout(struct sr_scratch *out, uint64_t top, uint64_t size, bool split,
		       const struct sr_ranges *avoid, const struct sr_ranges *devices,
		       uint32_t first_slot_id)
{
	uint64_t base = sr_scratch_base(top, size);
	uint64_t cursor = base;

	memset(out, 0, sizeof(*out));
	out->top = top;
	out->base = base;
	out->size = size;
	if (split && !clip_ranges(&out->holes, avoid, base, top))
		return false;
	out->untouched = out->holes;
	if (!clip_ranges(&out->untouched, devices, base, top))
		return false;
	for (unsigned i = 0; i <= out->holes.count; i++) {
		uint64_t end = i < out->holes.count ? out->holes.r[i].base : top + 1;
		if (end > cursor) {
			out->slots[out->slot_count] = (struct sr_slot){
				.id = first_slot_id + out->slot_count,
				.gpa = cursor,
				.size = end - cursor,
				.host_offset = cursor - base,
			};
			out->slot_count++;
		}
		if (i < out->holes.count)
			cursor = sr_range_end(&out->holes.r[i]) + 1;
	}
	return true;
}

uint64_t sr_scratch_tested_pages(const struct sr_scratch *s)
{
	return (s->size - sr_ranges_bytes_within(&s->untouched, s->base, s->size)) / SR_PAGE_SIZE;
}
