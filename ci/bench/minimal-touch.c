/* The second reference for `make bench`: the least a long-mode guest needs to
 * write and read back one 8-byte word in every 4 KiB page of a scratch region
 * at the top of guest-physical space. `build/vmm --touch all` is measured
 * against it.
 *
 *   usage: minimal-touch SIZE [32|36]
 *     SIZE  scratch bytes: decimal or 0x hex, optional K/M/G suffix (binary),
 *           a non-zero multiple of 4 KiB
 *     32|36 scratch ends at 0xffffffff (default) or 0xfffffffff
 *
 * One KVM slot [0, 1 MiB) holds the code and identity page tables (1 GiB pages
 * where KVM offers them, else 2 MiB pages); scratch is ONE slot backed by ONE
 * anonymous MAP_NORESERVE mapping, so each first touch is a fault the guest
 * takes, as under the rig. The vCPU starts in 64-bit mode through
 * KVM_SET_SREGS (no GDT in memory: the guest never reloads a segment). The
 * guest skips the LAPIC (0xfee00000) and IOAPIC (0xfec00000) pages, as the rig
 * guest does, so both touch the same pages.
 *
 * Exit codes: 0 every word read back, 1 a word read back wrong, 2 usage,
 * 3 a KVM or host error, 5 the guest stopped in an unexpected way. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define EXIT_GUEST_FAIL 1
#define EXIT_USAGE 2
#define EXIT_KVM 3
#define EXIT_CRASH 5

#define PAGE 0x1000ULL
#define GIB (1ULL << 30)
#define MIB2 (1ULL << 21)
#define LOW_SIZE 0x100000ULL /* slot 0: code, PML4, PDPT, PDs */
#define CODE_GPA 0x1000ULL
#define PML4_GPA 0x2000ULL
#define PDPT_GPA 0x3000ULL
#define PD_GPA 0x4000ULL /* 2 MiB pages only: one PD per GiB, up to 64 */
#define LAPIC_GPA 0xfee00000ULL
#define IOAPIC_GPA 0xfec00000ULL
#define EXIT_PORT 0xf4
#define TIMEOUT_S 300 /* SIGALRM's default action ends a guest that never exits */

#define PTE_P (1ULL << 0)
#define PTE_W (1ULL << 1)
#define PTE_PS (1ULL << 7)

/* 64-bit guest. In: rdi = scratch base, rsi = scratch end, rdx and rcx = the
 * two pages to skip. Writes each page's own address into its first word, then
 * reads them all back; outl 0 (all good) or 1 (a mismatch) to port 0xf4. */
static const uint8_t guest_code[] = {
	0x48, 0x89, 0xf8,                   /* 00: mov  %rdi,%rax            */
	0x48, 0x39, 0xd0,                   /* 03: cmp  %rdx,%rax   (write)  */
	0x74, 0x08,                         /* 06: je   10                   */
	0x48, 0x39, 0xc8,                   /* 08: cmp  %rcx,%rax            */
	0x74, 0x03,                         /* 0b: je   10                   */
	0x48, 0x89, 0x00,                   /* 0d: mov  %rax,(%rax)          */
	0x48, 0x05, 0x00, 0x10, 0x00, 0x00, /* 10: add  $0x1000,%rax         */
	0x48, 0x39, 0xf0,                   /* 16: cmp  %rsi,%rax            */
	0x72, 0xe8,                         /* 19: jb   03                   */
	0x48, 0x89, 0xf8,                   /* 1b: mov  %rdi,%rax            */
	0x48, 0x39, 0xd0,                   /* 1e: cmp  %rdx,%rax   (read)   */
	0x74, 0x0a,                         /* 21: je   2d                   */
	0x48, 0x39, 0xc8,                   /* 23: cmp  %rcx,%rax            */
	0x74, 0x05,                         /* 26: je   2d                   */
	0x48, 0x39, 0x00,                   /* 28: cmp  %rax,(%rax)          */
	0x75, 0x10,                         /* 2b: jne  3d                   */
	0x48, 0x05, 0x00, 0x10, 0x00, 0x00, /* 2d: add  $0x1000,%rax         */
	0x48, 0x39, 0xf0,                   /* 33: cmp  %rsi,%rax            */
	0x72, 0xe6,                         /* 36: jb   1e                   */
	0x31, 0xc0,                         /* 38: xor  %eax,%eax            */
	0xe7, EXIT_PORT,                    /* 3a: out  %eax,$0xf4           */
	0xf4,                               /* 3c: hlt                       */
	0xb8, 0x01, 0x00, 0x00, 0x00,       /* 3d: mov  $1,%eax              */
	0xe7, EXIT_PORT,                    /* 42: out  %eax,$0xf4           */
	0xf4,                               /* 44: hlt                       */
};

static void die(const char *what)
{
	fprintf(stderr, "minimal-touch: %s: %s\n", what, strerror(errno));
	exit(EXIT_KVM);
}

static void usage(const char *why)
{
	fprintf(stderr, "minimal-touch: %s\nusage: minimal-touch SIZE [32|36]\n", why);
	exit(EXIT_USAGE);
}

static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		usage("SIZE is not a number");
	switch (*end) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	}
	if (*end != '\0' || v == 0 || v > (1ULL << 36) >> shift)
		usage("SIZE must be a number with an optional K, M or G suffix, at most 64G");
	v <<= shift;
	if (v % PAGE)
		usage("SIZE must be a multiple of 4 KiB");
	return v;
}

/* The guest gets KVM's supported CPUID; tells whether it has 1 GiB pages. */
static int set_cpuid(int kvm, int vcpu)
{
	enum { MAX_ENTRIES = 256 };
	struct kvm_cpuid2 *cpuid =
		calloc(1, sizeof(*cpuid) + MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	int gb_pages = 0;

	if (cpuid == NULL)
		die("calloc");
	cpuid->nent = MAX_ENTRIES;
	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
		die("KVM_GET_SUPPORTED_CPUID");
	for (uint32_t i = 0; i < cpuid->nent; i++)
		if (cpuid->entries[i].function == 0x80000001u)
			gb_pages = (cpuid->entries[i].edx >> 26) & 1; /* PDPE1GB */
	if (ioctl(vcpu, KVM_SET_CPUID2, cpuid) < 0)
		die("KVM_SET_CPUID2");
	free(cpuid);
	return gb_pages;
}

static void set_slot(int vm, uint32_t slot, uint64_t gpa, uint64_t size, void *host)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
}

static void *map(uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

/* Identity map [0, end) with the largest pages available. */
static void build_page_tables(uint8_t *low, uint64_t end, int gb_pages)
{
	uint64_t *pml4 = (uint64_t *)(low + PML4_GPA), *pdpt = (uint64_t *)(low + PDPT_GPA);

	pml4[0] = PDPT_GPA | PTE_P | PTE_W;
	for (uint64_t g = 0; g < (end + GIB - 1) / GIB; g++) {
		uint64_t *pd = (uint64_t *)(low + PD_GPA + g * PAGE);
		if (gb_pages) {
			pdpt[g] = g * GIB | PTE_P | PTE_W | PTE_PS;
			continue;
		}
		for (uint64_t e = 0; e < 512; e++)
			pd[e] = (g * GIB + e * MIB2) | PTE_P | PTE_W | PTE_PS;
		pdpt[g] = (PD_GPA + g * PAGE) | PTE_P | PTE_W;
	}
}

static void enter_long_mode(int vcpu, uint64_t base, uint64_t end)
{
	struct kvm_sregs sregs;
	struct kvm_segment code = {
		.limit = 0xffffffff, .selector = 0x8, .type = 11, .present = 1, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = {
		.limit = 0xffffffff, .selector = 0x10, .type = 3, .present = 1, .s = 1, .db = 1, .g = 1,
	};
	struct kvm_regs regs = {
		.rip = CODE_GPA, .rflags = 2, .rdi = base, .rsi = end, .rdx = LAPIC_GPA, .rcx = IOAPIC_GPA,
	};

	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS");
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.cr3 = PML4_GPA;
	sregs.cr4 = 1ULL << 5;                                 /* PAE */
	sregs.cr0 = 1ULL << 0 | 1ULL << 4 | 1ULL << 5 | 1ULL << 31; /* PE ET NE PG */
	sregs.efer = 1ULL << 8 | 1ULL << 10;                   /* LME LMA */
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS");
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");
}

int main(int argc, char **argv)
{
	uint64_t size, top, base;
	int kvm, vm, vcpu;
	long run_size;
	uint8_t *low;
	struct kvm_run *run;
	uint32_t status;

	if (argc < 2 || argc > 3)
		usage("wrong number of arguments");
	size = parse_size(argv[1]);
	if (argc == 2 || strcmp(argv[2], "32") == 0)
		top = 1ULL << 32;
	else if (strcmp(argv[2], "36") == 0)
		top = 1ULL << 36;
	else
		usage("the top must be 32 or 36");
	if (size > top - LOW_SIZE)
		usage("SIZE does not fit above the 1 MiB low slot");
	base = top - size;

	if ((kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0) {
		fprintf(stderr, "minimal-touch: cannot open /dev/kvm: %s\n", strerror(errno));
		return EXIT_KVM;
	}
	if ((vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0)
		die("KVM_CREATE_VM");
	if ((vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0)
		die("KVM_CREATE_VCPU");
	if ((run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0)) < (long)sizeof(*run))
		die("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap of the vCPU run area");

	low = map(LOW_SIZE);
	memcpy(low + CODE_GPA, guest_code, sizeof(guest_code));
	build_page_tables(low, top, set_cpuid(kvm, vcpu));
	set_slot(vm, 0, 0, LOW_SIZE, low);
	set_slot(vm, 1, base, size, map(size));
	enter_long_mode(vcpu, base, top);

	alarm(TIMEOUT_S);
	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		die("KVM_RUN");
	if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT ||
	    run->io.port != EXIT_PORT || run->io.size != 4) {
		fprintf(stderr, "minimal-touch: expected the guest's OUT to port 0x%x, got KVM exit reason %u\n",
			EXIT_PORT, run->exit_reason);
		return EXIT_CRASH;
	}
	memcpy(&status, (uint8_t *)run + run->io.data_offset, sizeof(status));
	if (status != 0) {
		fprintf(stderr, "minimal-touch: the guest read a word back wrong\n");
		return EXIT_GUEST_FAIL;
	}
	return 0;
}
