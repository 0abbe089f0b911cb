/* Hostile guest: reads its real LAPIC and IOAPIC, then reports fewer
 * interrupts than it was asked to wait for (as a guest whose interrupts never
 * came would) and exits OK. Expect exit 1 naming every count. */
#include "hostile.h"

static struct sr_result result;

void guest_main(const struct sr_boot_info *bi)
{
	console_write("hello, world!\n");
	report_lapic(bi, &result);
	result = (struct sr_result){.kind = SR_RESULT_IOAPIC, .a = 0x00170011};
	send_result(&result);
	result = (struct sr_result){.kind = SR_RESULT_INTERRUPTS, .a = 1, .b = 1, .c = 0};
	send_result(&result);
	finish(SR_STATUS_OK);
}
