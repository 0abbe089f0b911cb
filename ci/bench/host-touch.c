/* The host's own first-touch rate, for `make bench`: map SIZE bytes of fresh
 * anonymous memory the way the rig maps scratch (MAP_PRIVATE | MAP_ANONYMOUS |
 * MAP_NORESERVE), write one 8-byte word per 4 KiB page, read them all back.
 * No KVM: what the guest's rate is compared with.
 *
 *   usage: host-touch SIZE      (decimal or 0x hex, optional K/M/G suffix)
 * Exit codes: 0 all words read back, 1 a mismatch, 2 usage, 3 mmap failed. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 0x1000ULL

int main(int argc, char **argv)
{
	char *end;
	unsigned long long size;
	unsigned shift = 0;
	uint8_t *mem;
	uint64_t bad = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: host-touch SIZE\n");
		return 2;
	}
	errno = 0;
	size = strtoull(argv[1], &end, 0);
	switch (*end) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	}
	if (errno || end == argv[1] || *end || argv[1][0] == '-' || size == 0 ||
	    size > (1ULL << 40) >> shift || ((size <<= shift) % PAGE)) {
		fprintf(stderr, "host-touch: SIZE must be a non-zero multiple of 4 KiB, at most 1T\n");
		return 2;
	}
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "host-touch: mmap of %llu bytes: %s\n", size, strerror(errno));
		return 3;
	}
	for (uint64_t off = 0; off < size; off += PAGE)
		*(volatile uint64_t *)(mem + off) = off;
	for (uint64_t off = 0; off < size; off += PAGE)
		bad += *(volatile uint64_t *)(mem + off) != off;
	if (bad) {
		fprintf(stderr, "host-touch: %llu pages read back wrong\n", (unsigned long long)bad);
		return 1;
	}
	return 0;
}
