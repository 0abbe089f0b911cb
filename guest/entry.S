/* Entered in 64-bit long mode by the VMM: RSP set, RDI = boot info. */
	.section .text.entry, "ax"
	.global _start
_start:
	cld
	call guest_main
	/* guest_main ends through the exit port; should it return, stop here
	 * without interrupts so the VMM reports a hang or a halt, not success. */
1:	cli
	hlt
	jmp 1b

