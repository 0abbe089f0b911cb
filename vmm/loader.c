#include "loader.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abi.h"
#include "exit_codes.h"
#include "report.h"

#define PTE_PRESENT (1ULL << 0)
#define PTE_WRITABLE (1ULL << 1)
#define PTE_HUGE (1ULL << 7)
#define GIB (1ULL << 30)
#define MIB2 (1ULL << 21)

#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_WP (1ULL << 16)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define GDT_CODE64 0x00AF9B000000FFFFULL /* present, ring 0, execute/read, L=1 */
#define GDT_DATA 0x00CF93000000FFFFULL   /* present, ring 0, read/write, 4 GiB */
#define SEL_CODE 0x08
#define SEL_DATA 0x10

static bool within_image_window(uint64_t addr, uint64_t size)
{
	return addr >= SR_IMAGE_GPA && size <= SR_IMAGE_END_GPA - SR_IMAGE_GPA &&
	       addr - SR_IMAGE_GPA <= SR_IMAGE_END_GPA - SR_IMAGE_GPA - size;
}

const char *sr_elf_validate(const void *image, size_t size, uint64_t *entry)
{
	const Elf64_Ehdr *eh = image;
	bool entry_ok = false, any_load = false;

	if (size < EI_NIDENT || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return "not an ELF file";
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return "not a 64-bit ELF (ELFCLASS64 needed)";
	if (size < sizeof(*eh))
		return "truncated ELF header";
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return "not little-endian";
	if (eh->e_machine != EM_X86_64)
		return "not an x86-64 ELF (e_machine is not EM_X86_64)";
	if (eh->e_type != ET_EXEC)
		return "not an executable (ET_EXEC) ELF";
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0)
		return "no usable program headers";
	if (eh->e_phoff > size || (size - eh->e_phoff) / sizeof(Elf64_Phdr) < eh->e_phnum)
		return "program headers lie outside the file";
	if (eh->e_phoff % _Alignof(Elf64_Phdr) != 0)
		return "program headers are misaligned in the file";
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)((const char *)image + eh->e_phoff) + i;
		if (ph->p_type != PT_LOAD)
			continue;
		any_load = true;
		if (ph->p_filesz > ph->p_memsz)
			return "a segment's file size exceeds its memory size";
		if (ph->p_offset > size || ph->p_filesz > size - ph->p_offset)
			return "a segment's data lies outside the file";
		if (ph->p_vaddr != ph->p_paddr)
			return "a segment is not identity-mapped (p_vaddr != p_paddr)";
		if (!within_image_window(ph->p_paddr, ph->p_memsz))
			return "a segment lies outside the image window [0x100000, 0x200000)";
		if ((ph->p_flags & PF_X) && eh->e_entry >= ph->p_vaddr &&
		    eh->e_entry - ph->p_vaddr < ph->p_memsz)
			entry_ok = true;
	}
	if (!any_load)
		return "no loadable segment";
	if (!entry_ok)
		return "the entry point is not inside an executable segment";
	*entry = eh->e_entry;
	return NULL;
}

void sr_elf_load(const void *image, uint8_t *low)
{
	const Elf64_Ehdr *eh = image;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)((const char *)image + eh->e_phoff) + i;
		if (ph->p_type != PT_LOAD)
			continue;
		memcpy(low + ph->p_paddr, (const char *)image + ph->p_offset, ph->p_filesz);
		memset(low + ph->p_paddr + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	}
}

void *sr_read_image(const char *path, size_t *size)
{
	struct stat st;
	/* NONBLOCK: a FIFO must be refused, not waited on. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	char *buf;
	size_t done = 0;

	if (fd < 0)
		sr_die(SR_EXIT_USAGE, "guest image %s: %s (build it with make, or pass --guest PATH)", path,
		       strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		sr_die(SR_EXIT_USAGE, "guest image %s: not a regular file", path);
	}
	if (st.st_size == 0 || (uint64_t)st.st_size > SR_MAX_IMAGE_BYTES) {
		close(fd);
		sr_die(SR_EXIT_USAGE, "guest image %s: size %lld is outside 1..%u bytes", path,
		       (long long)st.st_size, SR_MAX_IMAGE_BYTES);
	}
	buf = malloc((size_t)st.st_size);
	if (buf == NULL)
		sr_die(SR_EXIT_HOST, "out of memory reading %s", path);
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
		if (n <= 0) {
			free(buf);
			close(fd);
			sr_die(SR_EXIT_USAGE, "guest image %s: read failed", path);
		}
		done += (size_t)n;
	}
	close(fd);
	*size = done;
	return buf;
}

unsigned sr_build_page_tables(uint8_t *low, uint64_t map_end, bool gb_pages)
{
	uint64_t *pml4 = (uint64_t *)(low + SR_PAGE_TABLES_GPA);
	uint64_t *pdpt = pml4 + 512;
	uint64_t pdpt_gpa = SR_PAGE_TABLES_GPA + SR_PAGE_SIZE;
	uint64_t gigs = (map_end + GIB - 1) / GIB;
	unsigned pages = 2;

	memset(pml4, 0, 2 * SR_PAGE_SIZE);
	pml4[0] = pdpt_gpa | PTE_PRESENT | PTE_WRITABLE;
	for (uint64_t g = 0; g < gigs; g++) {
		if (gb_pages) {
			pdpt[g] = g * GIB | PTE_PRESENT | PTE_WRITABLE | PTE_HUGE;
			continue;
		}
		uint64_t pd_gpa = SR_PAGE_TABLES_GPA + (uint64_t)pages * SR_PAGE_SIZE;
		uint64_t *pd = (uint64_t *)(low + pd_gpa);
		for (unsigned e = 0; e < 512; e++)
			pd[e] = (g * GIB + e * MIB2) | PTE_PRESENT | PTE_WRITABLE | PTE_HUGE;
		pdpt[g] = pd_gpa | PTE_PRESENT | PTE_WRITABLE;
		pages++;
	}
	return pages;
}

static void set_segment(struct kvm_segment *s, uint16_t selector, bool code)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xFFFFFFFF,
		.selector = selector,
		.type = code ? 11 : 3, /* execute/read/accessed : read/write/accessed */
		.present = 1,
		.dpl = 0,
		.db = code ? 0 : 1,
		.s = 1,
		.l = code ? 1 : 0,
		.g = 1,
	};
}

void sr_enter_long_mode(struct sr_vm *vm, uint8_t *low, uint64_t entry)
{
	uint64_t *gdt = (uint64_t *)(low + SR_GDT_GPA);
	struct kvm_sregs sregs;
	struct kvm_regs regs = {0};

	gdt[0] = 0;
	gdt[SEL_CODE / 8] = GDT_CODE64;
	gdt[SEL_DATA / 8] = GDT_DATA;

	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		sr_die(SR_EXIT_HOST, "KVM_GET_SREGS: %s", strerror(errno));
	set_segment(&sregs.cs, SEL_CODE, true);
	set_segment(&sregs.ds, SEL_DATA, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gdt.base = SR_GDT_GPA;
	sregs.gdt.limit = 3 * 8 - 1;
	sregs.idt.base = SR_IDT_GPA;
	sregs.idt.limit = 0; /* any exception before the guest sets its IDT ends in a shutdown */
	sregs.cr3 = SR_PAGE_TABLES_GPA;
	sregs.cr4 = CR4_PAE;
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs.efer = EFER_LME | EFER_LMA;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		sr_die(SR_EXIT_HOST, "KVM_SET_SREGS (long mode): %s", strerror(errno));

	regs.rip = entry;
	regs.rsp = SR_STACK_TOP_GPA;
	regs.rdi = SR_BOOT_INFO_GPA;
	regs.rflags = 2; /* bit 1 is reserved-one; interrupts off */
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0)
		sr_die(SR_EXIT_HOST, "KVM_SET_REGS: %s", strerror(errno));
}
