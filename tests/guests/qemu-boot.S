/* A boot sector for QEMU's pc machine: SeaBIOS loads it at 0x7c00; it prints a
 * line on COM1 and powers off (ACPI S5 on PIIX4 PM1a_CNT, which SeaBIOS puts at
 * 0x604), so QEMU exits 0 and a QEMU boot under kvm-as has a fixed serial output
 * and exit code. (A triple fault would not do: no reset under every KVM.) */
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
	mov $0x2000, %ax	/* SLP_EN, SLP_TYP 0: S5 in QEMU's DSDT */
	mov $0x604, %dx
	out %ax, %dx
2:	hlt
	jmp 2b
message:
	.asciz "qemu-boot: hello, world! (SeaBIOS ran this boot sector)\r\n"
	.org 510
	.byte 0x55, 0xaa
