/* Hostile guest: HLT with interrupts off. Without the in-kernel irqchip the
 * VMM sees the HLT (exit 5); with it, the vCPU sleeps in KVM (exit 124). */
#include "hostile.h"

void guest_main(const struct sr_boot_info *bi)
{
	(void)bi;
	console_write("hello, world!\n");
	for (;;)
		__asm__ volatile("cli; hlt");
}
