/* A boot sector for QEMU: SeaBIOS loads it at 0x7c00; it prints a line on
 * COM1 and leaves through isa-debug-exit (QEMU exits with (0x10 << 1) | 1 = 33),
 * so a QEMU boot under kvm-as has a fixed serial output and exit code. */
	.code16
	.globl _start
_start:
	cli
	xor %ax, %ax
	mov %ax, %ds
	mov $message, %si
next:
	lodsb
	test %al, %al
	jz done
	mov %al, %bl
	mov $0x3fd, %dx		/* line status: wait for an empty transmitter */
1:	in %dx, %al
	test $0x20, %al
	jz 1b
	mov $0x3f8, %dx
	mov %bl, %al
	out %al, %dx
	jmp next
done:
	mov $0x10, %al
	out %al, $0xf4		/* isa-debug-exit */
2:	hlt
	jmp 2b
message:
	.asciz "qemu-boot: hello, world! (SeaBIOS ran this boot sector)\r\n"
	.org 510
	.byte 0x55, 0xaa
