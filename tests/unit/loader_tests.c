/* Unit tests of the guest loader's pure parts (vmm/loader.c): ELF
 * validation against the image window, and the identity-mapped page tables
 * walked as the MMU would. Expected values come from loader.h and abi.h. */
#include <elf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "loader.h"

#include "harness.h"


/* ------------------------------------------------------------------------ */
/* sr_elf_validate                                                           */

#define CODE_BYTES 16
struct elf_image {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	uint8_t code[CODE_BYTES];
};

/* A minimal valid guest: one PT_LOAD R|X at 0x100000, entry at its start. */
static void make_valid_elf(struct elf_image *m)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->eh.e_ident, ELFMAG, SELFMAG);
	m->eh.e_ident[EI_CLASS] = ELFCLASS64;
	m->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	m->eh.e_ident[EI_VERSION] = EV_CURRENT;
	m->eh.e_type = ET_EXEC;
	m->eh.e_machine = EM_X86_64;
	m->eh.e_version = EV_CURRENT;
	m->eh.e_entry = 0x100000;
	m->eh.e_phoff = offsetof(struct elf_image, ph);
	m->eh.e_ehsize = sizeof(Elf64_Ehdr);
	m->eh.e_phentsize = sizeof(Elf64_Phdr);
	m->eh.e_phnum = 1;
	m->ph[0] = (Elf64_Phdr){
		.p_type = PT_LOAD,
		.p_flags = PF_R | PF_X,
		.p_offset = offsetof(struct elf_image, code),
		.p_vaddr = 0x100000,
		.p_paddr = 0x100000,
		.p_filesz = CODE_BYTES,
		.p_memsz = 0x1000,
		.p_align = 0x1000,
	};
	memset(m->code, 0xF4, sizeof(m->code)); /* hlt */
}

/* Each mutation edits the valid image and may shorten the file. */
#define MUTATION(name, ...)                                                   \
	static void mut_##name(struct elf_image *m, size_t *size)            \
	{                                                                     \
		(void)m;                                                      \
		(void)size;                                                   \
		__VA_ARGS__;                                                  \
	}

MUTATION(none, )
MUTATION(entry_last_byte, m->eh.e_entry = 0x100000 + 0x1000 - 1)
MUTATION(segment_at_window_end, {
	m->ph[0].p_vaddr = m->ph[0].p_paddr = 0x1FF000;
	m->eh.e_entry = 0x1FF010;
})
MUTATION(whole_window, m->ph[0].p_memsz = 0x100000)
MUTATION(second_segment_data, {
	m->eh.e_phnum = 2;
	m->ph[1] = (Elf64_Phdr){PT_LOAD, PF_R | PF_W, 0, 0x180000, 0x180000, 0, 0x2000, 0x1000};
})
MUTATION(entry_in_second_segment, {
	m->eh.e_phnum = 2;
	m->ph[0].p_flags = PF_R;
	m->ph[1] = (Elf64_Phdr){PT_LOAD, PF_R | PF_X, 0, 0x180000, 0x180000, 0, 0x2000, 0x1000};
	m->eh.e_entry = 0x181000;
})
MUTATION(non_load_ignored, {
	m->eh.e_phnum = 2;
	m->ph[1] = (Elf64_Phdr){.p_type = PT_GNU_STACK, .p_flags = PF_R | PF_W};
})
MUTATION(bss_only, m->ph[0].p_filesz = 0)
MUTATION(bad_magic, m->eh.e_ident[EI_MAG1] = 'e')
MUTATION(bad_magic0, m->eh.e_ident[EI_MAG0] = 0)
MUTATION(class32, m->eh.e_ident[EI_CLASS] = ELFCLASS32)
MUTATION(class_none, m->eh.e_ident[EI_CLASS] = ELFCLASSNONE)
MUTATION(big_endian, m->eh.e_ident[EI_DATA] = ELFDATA2MSB)
MUTATION(machine_386, m->eh.e_machine = EM_386)
MUTATION(machine_aarch64, m->eh.e_machine = EM_AARCH64)
MUTATION(type_dyn, m->eh.e_type = ET_DYN)
MUTATION(type_rel, m->eh.e_type = ET_REL)
MUTATION(empty_file, *size = 0)
MUTATION(ident_only, *size = EI_NIDENT)
MUTATION(header_short, *size = sizeof(Elf64_Ehdr) - 1)
MUTATION(header_only, *size = sizeof(Elf64_Ehdr))
MUTATION(phoff_past_end, m->eh.e_phoff = sizeof(struct elf_image) + 8)
MUTATION(phoff_at_end, m->eh.e_phoff = sizeof(struct elf_image))
MUTATION(phoff_huge, m->eh.e_phoff = UINT64_MAX - 8)
MUTATION(phoff_misaligned, m->eh.e_phoff = sizeof(Elf64_Ehdr) + 1)
MUTATION(phdrs_past_end, m->eh.e_phnum = 4) /* 64 + 4 * 56 > the 192-byte file */
MUTATION(phdr_cut, *size = offsetof(struct elf_image, ph) + sizeof(Elf64_Phdr) - 1)
MUTATION(phnum_max, m->eh.e_phnum = 0xFFFF)
MUTATION(phnum_zero, m->eh.e_phnum = 0)
MUTATION(phentsize_wrong, m->eh.e_phentsize = sizeof(Elf64_Phdr) - 8)
MUTATION(filesz_over_memsz, {
	m->ph[0].p_filesz = CODE_BYTES;
	m->ph[0].p_memsz = CODE_BYTES - 1;
})
MUTATION(data_past_end, m->ph[0].p_offset = sizeof(struct elf_image) - CODE_BYTES / 2)
MUTATION(offset_past_end, m->ph[0].p_offset = sizeof(struct elf_image) + 1)
MUTATION(offset_overflow, m->ph[0].p_offset = UINT64_MAX - 7)
MUTATION(filesz_huge, m->ph[0].p_filesz = m->ph[0].p_memsz = 0xFFFFFFFFFFFFF000ULL)
MUTATION(below_window, {
	m->ph[0].p_vaddr = m->ph[0].p_paddr = 0xFF000;
	m->ph[0].p_memsz = 0x2000;
})
MUTATION(at_zero, {
	m->ph[0].p_vaddr = m->ph[0].p_paddr = 0;
	m->eh.e_entry = 0;
})
MUTATION(past_window_end, {
	m->ph[0].p_vaddr = m->ph[0].p_paddr = 0x1FF000;
	m->ph[0].p_memsz = 0x1001;
	m->eh.e_entry = 0x1FF000;
})
MUTATION(over_window, m->ph[0].p_memsz = 0x100001)
MUTATION(memsz_huge, m->ph[0].p_memsz = 0xFFFFFFFFFFFFF000ULL)
MUTATION(vaddr_huge, {
	m->ph[0].p_vaddr = m->ph[0].p_paddr = 0xFFFFFFFFFFFFF000ULL;
	m->eh.e_entry = 0xFFFFFFFFFFFFF000ULL;
})
MUTATION(paddr_differs, m->ph[0].p_paddr = 0x101000)
MUTATION(vaddr_high_half, m->ph[0].p_vaddr = 0xFFFFFFFF80100000ULL)
MUTATION(entry_past_segment, m->eh.e_entry = 0x100000 + 0x1000)
MUTATION(entry_before_segment, m->eh.e_entry = 0xFFFFF)
MUTATION(entry_zero, m->eh.e_entry = 0)
MUTATION(entry_not_exec, m->ph[0].p_flags = PF_R | PF_W)
MUTATION(entry_in_data_segment, {
	m->eh.e_phnum = 2;
	m->ph[1] = (Elf64_Phdr){PT_LOAD, PF_R | PF_W, 0, 0x180000, 0x180000, 0, 0x2000, 0x1000};
	m->eh.e_entry = 0x180000;
})
MUTATION(no_load, m->ph[0].p_type = PT_NOTE)
MUTATION(null_type, m->ph[0].p_type = PT_NULL)
MUTATION(second_segment_outside, {
	m->eh.e_phnum = 2;
	m->ph[1] = (Elf64_Phdr){PT_LOAD, PF_R | PF_W, 0, 0x200000, 0x200000, 0, 0x1000, 0x1000};
})

static const struct elf_case {
	const char *name;
	void (*mutate)(struct elf_image *m, size_t *size);
	bool ok;
	uint64_t entry; /* when ok */
} elf_cases[] = {
#define OK(name, entry) {#name, mut_##name, true, entry}
#define BAD(name) {#name, mut_##name, false, 0}
	OK(none, 0x100000),
	OK(entry_last_byte, 0x100FFF),
	OK(segment_at_window_end, 0x1FF010),
	OK(whole_window, 0x100000),
	OK(second_segment_data, 0x100000),
	OK(entry_in_second_segment, 0x181000),
	OK(non_load_ignored, 0x100000),
	OK(bss_only, 0x100000),
	BAD(bad_magic),
	BAD(bad_magic0),
	BAD(class32),
	BAD(class_none),
	BAD(big_endian),
	BAD(machine_386),
	BAD(machine_aarch64),
	BAD(type_dyn),
	BAD(type_rel),
	BAD(empty_file),
	BAD(ident_only),
	BAD(header_short),
	BAD(header_only),
	BAD(phoff_past_end),
	BAD(phoff_at_end),
	BAD(phoff_huge),
	BAD(phoff_misaligned),
	BAD(phdrs_past_end),
	BAD(phdr_cut),
	BAD(phnum_max),
	BAD(phnum_zero),
	BAD(phentsize_wrong),
	BAD(filesz_over_memsz),
	BAD(data_past_end),
	BAD(offset_past_end),
	BAD(offset_overflow),
	BAD(filesz_huge),
	BAD(below_window),
	BAD(at_zero),
	BAD(past_window_end),
	BAD(over_window),
	BAD(memsz_huge),
	BAD(vaddr_huge),
	BAD(paddr_differs),
	BAD(vaddr_high_half),
	BAD(entry_past_segment),
	BAD(entry_before_segment),
	BAD(entry_zero),
	BAD(entry_not_exec),
	BAD(entry_in_data_segment),
	BAD(no_load),
	BAD(null_type),
	BAD(second_segment_outside),
#undef OK
#undef BAD
};

static void test_elf_validate(void)
{
	CHECK_EQ(sizeof(struct elf_image), sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr) + CODE_BYTES,
		 "test image has no padding");

	for (unsigned i = 0; i < ARRAY_SIZE(elf_cases); i++) {
		const struct elf_case *c = &elf_cases[i];
		struct elf_image m;
		size_t size = sizeof(m);
		uint64_t entry = 0xDEADBEEF;

		make_valid_elf(&m);
		c->mutate(&m, &size);
		/* Exactly `size` bytes on the heap, so ASan sees any read past the file. */
		uint8_t *file = malloc(size ? size : 1);
		if (file == NULL)
			abort();
		memcpy(file, &m, size);
		const char *err = sr_elf_validate(file, size, &entry);
		if (c->ok) {
			CHECK(err == NULL, "%s: refused: %s", c->name, err);
			if (err == NULL)
				CHECK_EQ(entry, c->entry, "%s: entry", c->name);
		} else {
			CHECK(err != NULL, "%s: accepted (entry 0x%llx)", c->name, U(entry));
		}
		free(file);
	}
}

/* ------------------------------------------------------------------------ */
/* sr_build_page_tables                                                      */

#define PTE_P (1ULL << 0)
#define PTE_W (1ULL << 1)
#define PTE_PS (1ULL << 7)
#define PTE_ADDR 0x000FFFFFFFFFF000ULL
#define LOW_BYTES SR_LOW_END_GPA
#define CANARY 0xA5

static uint64_t read_pte(const uint8_t *low, uint64_t gpa)
{
	uint64_t v;
	memcpy(&v, low + gpa, sizeof(v));
	return v;
}

/* Walk the tables like the MMU. Returns false if `va` is not mapped or a
 * table lies outside the page-table area; else the physical address. */
static bool walk(const uint8_t *low, uint64_t va, uint64_t *pa, uint64_t *page_size)
{
	uint64_t table = SR_PAGE_TABLES_GPA;
	static const unsigned shifts[] = {39, 30, 21};

	for (unsigned level = 0; level < 3; level++) {
		if (table < SR_PAGE_TABLES_GPA || table + PAGE > SR_LOW_END_GPA || table % PAGE)
			return false;
		uint64_t e = read_pte(low, table + ((va >> shifts[level]) & 511) * 8);
		if (!(e & PTE_P) || !(e & PTE_W))
			return false;
		if (level > 0 && (e & PTE_PS)) {
			uint64_t mask = (1ULL << shifts[level]) - 1;
			*pa = (e & PTE_ADDR & ~mask) | (va & mask);
			*page_size = 1ULL << shifts[level];
			return true;
		}
		if (level == 0 && (e & PTE_PS))
			return false; /* no 512 GiB pages */
		table = e & PTE_ADDR;
	}
	return false; /* 4 KiB pages are not expected */
}

static const struct pt_case {
	uint64_t map_end;
	bool gb_pages;
	unsigned want_pages; /* PML4 + PDPT (+ one PD per GiB without 1 GiB pages) */
} pt_cases[] = {
	{4 * GIB, true, 2},
	{4 * GIB, false, 2 + 4},
	{64 * GIB, true, 2},
	{64 * GIB, false, 2 + 64},
	{SR_GPA_TOP_MAX + 1, true, 2},
	{SR_GPA_TOP_MAX + 1, false, 2 + 256},
	{4 * GIB + 1, false, 2 + 5}, /* a partial GiB still gets its PD */
	{GIB, false, 2 + 1},
	{0xFEDFFFFF + 1, true, 2},
};

static void test_page_tables(void)
{
	uint8_t *low = malloc(LOW_BYTES);
	if (low == NULL)
		abort();

	for (unsigned c = 0; c < ARRAY_SIZE(pt_cases); c++) {
		const struct pt_case *pc = &pt_cases[c];
		const char *kind = pc->gb_pages ? "1G" : "2M";
		uint64_t gigs = (pc->map_end + GIB - 1) / GIB;

		memset(low, CANARY, LOW_BYTES);
		unsigned pages = sr_build_page_tables(low, pc->map_end, pc->gb_pages);
		CHECK_EQ(pages, pc->want_pages, "map_end 0x%llx %s: page-table pages", U(pc->map_end), kind);
		CHECK(SR_PAGE_TABLES_GPA + (uint64_t)pages * PAGE <= SR_LOW_END_GPA,
		      "map_end 0x%llx %s: %u pages overflow the low region", U(pc->map_end), kind, pages);

		/* Nothing outside [SR_PAGE_TABLES_GPA, + pages) was written. */
		uint64_t pt_end = SR_PAGE_TABLES_GPA + (uint64_t)pages * PAGE;
		if (pt_end > LOW_BYTES)
			pt_end = LOW_BYTES;
		uint64_t stray = UINT64_MAX;
		for (uint64_t b = 0; b < LOW_BYTES && stray == UINT64_MAX; b++)
			if ((b < SR_PAGE_TABLES_GPA || b >= pt_end) && low[b] != CANARY)
				stray = b;
		CHECK(stray == UINT64_MAX, "map_end 0x%llx %s: byte 0x%llx outside the tables written",
		      U(pc->map_end), kind, U(stray));

		/* PML4[0] -> PDPT at SR_PAGE_TABLES_GPA + 0x1000; nothing else. */
		uint64_t pml4_0 = read_pte(low, SR_PAGE_TABLES_GPA);
		CHECK_EQ(pml4_0 & PTE_ADDR, SR_PAGE_TABLES_GPA + 0x1000, "map_end 0x%llx %s: PML4[0]",
			 U(pc->map_end), kind);
		CHECK((pml4_0 & (PTE_P | PTE_W | PTE_PS)) == (PTE_P | PTE_W),
		      "map_end 0x%llx %s: PML4[0] flags 0x%llx", U(pc->map_end), kind, U(pml4_0));
		unsigned nonzero = 0;
		for (unsigned i = 1; i < 512; i++)
			nonzero += read_pte(low, SR_PAGE_TABLES_GPA + i * 8) != 0;
		CHECK_EQ(nonzero, 0, "map_end 0x%llx %s: PML4 entries besides 0", U(pc->map_end), kind);

		/* PDPT: one entry per GiB below map_end, the rest empty. */
		const uint64_t pdpt = SR_PAGE_TABLES_GPA + 0x1000;
		unsigned bad_pdpt = 0, bad_pd = 0;
		uint64_t first_bad = 0;
		for (uint64_t g = 0; g < 512; g++) {
			uint64_t e = read_pte(low, pdpt + g * 8);
			if (g >= gigs) {
				if (e != 0 && !bad_pdpt++)
					first_bad = g;
				continue;
			}
			if (pc->gb_pages) {
				if (((e & PTE_ADDR) != g << 30 || (e & (PTE_P | PTE_W | PTE_PS)) !=
								      (PTE_P | PTE_W | PTE_PS)) &&
				    !bad_pdpt++)
					first_bad = g;
				continue;
			}
			/* 2 MiB: a PD inside the page-table area, after PML4 and PDPT. */
			uint64_t pd = e & PTE_ADDR;
			if ((e & (PTE_P | PTE_W | PTE_PS)) != (PTE_P | PTE_W) ||
			    pd < SR_PAGE_TABLES_GPA + 2 * PAGE || pd + PAGE > pt_end) {
				if (!bad_pdpt++)
					first_bad = g;
				continue;
			}
			for (uint64_t i = 0; i < 512; i++) {
				uint64_t pde = read_pte(low, pd + i * 8);
				if ((pde & PTE_ADDR) != (g << 30) + (i << 21) ||
				    (pde & (PTE_P | PTE_W | PTE_PS)) != (PTE_P | PTE_W | PTE_PS))
					bad_pd++;
			}
		}
		CHECK_EQ(bad_pdpt, 0, "map_end 0x%llx %s: bad PDPT entries, first %llu", U(pc->map_end),
			 kind, U(first_bad));
		CHECK_EQ(bad_pd, 0, "map_end 0x%llx %s: bad PD entries", U(pc->map_end), kind);

		/* Distinct PDs: the PDPT entries of different GiBs differ. */
		if (!pc->gb_pages)
			for (uint64_t g = 1; g < gigs; g++)
				if ((read_pte(low, pdpt + g * 8) & PTE_ADDR) ==
				    (read_pte(low, pdpt + (g - 1) * 8) & PTE_ADDR))
					CHECK(false, "map_end 0x%llx: GiB %llu and %llu share a PD",
					      U(pc->map_end), U(g - 1), U(g));

		/* Identity mapping at interesting addresses, by walking. */
		const uint64_t probes[] = {0,	     0x1000,	  SR_IMAGE_GPA,	 SR_PAGE_TABLES_GPA,
					   0x3FFFFF, 0x400000,	  SR_IOAPIC_GPA, SR_LAPIC_GPA + 0x30,
					   0xFFFFFFFF, pc->map_end - 1, pc->map_end / 2};
		for (unsigned p = 0; p < ARRAY_SIZE(probes); p++) {
			uint64_t va = probes[p], pa = 0, ps = 0;
			if (va >= pc->map_end)
				continue;
			bool mapped = walk(low, va, &pa, &ps);
			CHECK(mapped, "map_end 0x%llx %s: 0x%llx not mapped", U(pc->map_end), kind, U(va));
			if (mapped) {
				CHECK_EQ(pa, va, "map_end 0x%llx %s: identity at 0x%llx", U(pc->map_end), kind,
					 U(va));
				CHECK_EQ(ps, pc->gb_pages ? GIB : 2 * MIB, "map_end 0x%llx %s: page size",
					 U(pc->map_end), kind);
			}
		}
		/* The first GiB past the mapped ones is not mapped. */
		if (gigs < 512) {
			uint64_t pa, ps;
			CHECK(!walk(low, gigs * GIB, &pa, &ps), "map_end 0x%llx %s: 0x%llx mapped",
			      U(pc->map_end), kind, U(gigs * GIB));
		}
	}

	/* The brief's cases spelled out. 64 GiB with 2 MiB pages: the last PD
	 * entry maps 64 GiB - 2 MiB. */
	memset(low, 0, LOW_BYTES);
	CHECK_EQ(sr_build_page_tables(low, 64 * GIB, false), 66, "64 GiB, 2 MiB pages");
	uint64_t last_pd = read_pte(low, SR_PAGE_TABLES_GPA + 0x1000 + 63 * 8) & PTE_ADDR;
	CHECK(last_pd >= SR_PAGE_TABLES_GPA && last_pd + PAGE <= SR_LOW_END_GPA, "PD 63 at 0x%llx",
	      U(last_pd));
	if (last_pd >= SR_PAGE_TABLES_GPA && last_pd + PAGE <= SR_LOW_END_GPA) {
		uint64_t e = read_pte(low, last_pd + 511 * 8);
		CHECK_EQ(e & PTE_ADDR, 64 * GIB - 2 * MIB, "last PD entry address");
		CHECK(e & PTE_PS, "last PD entry PS bit: 0x%llx", U(e));
	}
	/* Rebuilding smaller over a bigger table leaves no stale PDPT entries. */
	CHECK_EQ(sr_build_page_tables(low, 4 * GIB, true), 2, "4 GiB, 1 GiB pages after 64 GiB");
	CHECK_EQ(read_pte(low, SR_PAGE_TABLES_GPA + 0x1000 + 4 * 8), 0, "PDPT[4] after rebuild");
	CHECK_EQ(read_pte(low, SR_PAGE_TABLES_GPA + 0x1000 + 3 * 8) & PTE_ADDR, 3 * GIB, "PDPT[3]");

	free(low);
}

const struct unit_test loader_tests[] = {
	{"elf_validate", test_elf_validate},
	{"page_tables", test_page_tables},
};
const unsigned loader_test_count = ARRAY_SIZE(loader_tests);
