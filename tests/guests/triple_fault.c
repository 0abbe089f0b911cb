/* Hostile guest: loads a null IDT and executes UD2: the #UD cannot be delivered
 * (#GP, then #DF, then a shutdown). Expect exit 5, "triple fault". */
#include "hostile.h"

void guest_main(const struct sr_boot_info *bi)
{
	static const struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} null_idt = {0, 0};

	(void)bi;
	console_write("hello, world!\n");
	__asm__ volatile("lidt %0; ud2" : : "m"(null_idt) : "memory");
	spin();
}
