/* KVM's binary statistics (Documentation/virt/kvm/api.rst, KVM_GET_STATS_FD): a header, a
 * table of descriptors each followed by its name, then the data. */
#include "kvm_stats.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int read_at(int fd, void *buf, size_t size, off_t offset)
{
	ssize_t n = pread(fd, buf, size, offset);
	if (n < 0)
		return errno;
	return (size_t)n == size ? 0 : EIO;
}

int sr_kvm_stat(int fd, const char *name, uint64_t *value)
{
	int stats_fd = ioctl(fd, KVM_GET_STATS_FD, NULL);
	if (stats_fd < 0)
		return errno;
	struct kvm_stats_header header;
	int err = read_at(stats_fd, &header, sizeof(header), 0);
	size_t desc_size = sizeof(struct kvm_stats_desc) + header.name_size;
	struct kvm_stats_desc *desc = err ? NULL : malloc(desc_size);
	if (!err && !desc)
		err = ENOMEM;
	err = err ? err : ENOENT;
	for (uint32_t i = 0; desc && err == ENOENT && i < header.num_desc; i++) {
		int rerr = read_at(stats_fd, desc, desc_size, (off_t)(header.desc_offset + i * desc_size));
		if (rerr) {
			err = rerr;
			break;
		}
		if (strncmp(desc->name, name, header.name_size) != 0 || desc->size < 1)
			continue;
		err = read_at(stats_fd, value, sizeof(*value), (off_t)(header.data_offset + desc->offset));
	}
	free(desc);
	close(stats_fd);
	return err;
}
