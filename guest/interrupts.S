/* Exception and interrupt entry stubs for the guest's IDT (see apic.c). */
	.text
/* Exceptions: push a zero where the CPU pushes no error code, then the
 * vector, so guest_exception() always sees [vector, error, rip, cs, ...]. */
.macro EXCEPTION vec
	.global exception_\vec
exception_\vec:
	.if !(\vec == 8 || (\vec >= 10 && \vec <= 14) || \vec == 17 || \vec == 21 || \vec == 29 || \vec == 30)
	pushq $0
	.endif
	pushq $\vec
	jmp exception_common
.endm

exception_common:
	mov %rsp, %rdi
	call guest_exception /* reports and exits: never returns */
2:	cli
	hlt
	jmp 2b

	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	EXCEPTION \vec
	.endr

/* Interrupts: save the caller-saved registers around a C handler. The CPU
 * aligned RSP to 16 before its 5-word frame; 9 pushes realign it for the call. */
.macro INTERRUPT name, handler
	.global \name
\name:
	push %rax; push %rcx; push %rdx; push %rsi; push %rdi
	push %r8; push %r9; push %r10; push %r11
	cld
	call \handler
	pop %r11; pop %r10; pop %r9; pop %r8
	pop %rdi; pop %rsi; pop %rdx; pop %rcx; pop %rax
	iretq
.endm

	INTERRUPT timer_entry, on_timer
	INTERRUPT external_entry, on_external
	INTERRUPT wake_entry, on_wake
	INTERRUPT spurious_entry, on_spurious

	/* Addresses of the 32 exception stubs, for the IDT. */
	.section .rodata
	.global exception_stubs
	.balign 8
exception_stubs:
	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad exception_\vec
	.endr
