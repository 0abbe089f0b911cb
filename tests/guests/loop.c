/* Hostile guest: spins forever without a word. Expect exit 124 at --timeout. */
#include "hostile.h"

void guest_main(const struct sr_boot_info *bi)
{
	(void)bi;
	spin();
}
