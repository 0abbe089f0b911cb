# shellcheck shell=bash
# The L1 accelerators, in one place: how ci/l1/l1-boot and ci/l1/in-l1 turn "boot this kernel and
# initramfs with this command line, these serial files" into an emulator command. Sourced;
# nothing runs when it is. The callers only name an accelerator:
#   tcg    QEMU TCG, -cpu max: an AMD L1 with SVM (no AVIC)
#   kvm    QEMU on the host's /dev/kvm, -cpu host: the host's vendor, nested
#   bochs  Bochs, cpu model corei7_skylake_x: an Intel L1 with VMX, EPT, unrestricted guest,
#          flexpriority and a real virtual APIC. The project's own Bochs 3.0 (ci/bochs/build)
#          also emulates posted interrupts, so kvm_intel keeps enable_apicv=Y; where it is not
#          built, Debian's bochs 2.7 runs (no posted interrupts: enable_apicv reads N)
#
#   l1_accel_missing ACCEL          why ACCEL cannot run here (empty when it can)
#   l1_accel_vendor ACCEL           the CPU vendor L1 sees: amd|intel
#   l1_accel_command ACCEL DIR KERNEL INITRD APPEND MEM SERIAL...
#       sets L1_CMD (the command, an array) and L1_STDIN (what to feed it); writes DIR/l1.cmd,
#       and for bochs DIR/bochsrc (Bochs' own log goes to DIR/bochs.log)
#   l1_accel_normal_exit ACCEL RC   is RC how the emulator ends after L1 powers off?
#   l1_accel_emulator ACCEL         the emulator's name, for messages: QEMU|Bochs
#   l1_accel_lacks ACCEL PARAM      why L1's module cannot get PARAM there (empty: no known reason)
#   l1_accel_phys_bits_missing ACCEL  why L1_PHYS_BITS cannot be given there (empty when it can)
#   l1_phys_bits_ok N               is N an address width an L1 can have (L1_PHYS_BITS_RANGE)?
#   l1_bochs_select                 sets L1_BOCHS (the binary) and L1_BOCHS_WHICH (one line naming
#                                   it, and why when it is the fallback); RIG_BOCHS=FILE overrides
#   l1_accel_shares_boots ACCEL     should cells that differ only in module parameters share one
#                                   boot (a module reload each)? Yes where a boot takes minutes
# The callers run L1_CMD under `timeout`, judge the run by the results channel, never by the
# emulator's exit code alone.

# shellcheck disable=SC2034 # L1_ACCELS, L1_CMD and L1_STDIN are for the callers
L1_ACCELS="tcg kvm bochs"
# L1_PHYS_BITS=N (callers' --phys-bits): L1's MAXPHYADDR, QEMU's phys-bits; KVM in L1 then
# refuses slots above 2^N - 1 with EINVAL (kvm_arch_prepare_memory_region, kvm_mmu_max_gfn).
L1_PHYS_BITS=${L1_PHYS_BITS:-}
export L1_PHYS_BITS
# QEMU's q35 needs 36 bits: it refuses fewer with L1's memory and PCI windows.
L1_PHYS_BITS_MIN=36 L1_PHYS_BITS_MAX=52
L1_PHYS_BITS_RANGE="$L1_PHYS_BITS_MIN to $L1_PHYS_BITS_MAX"
L1_BOCHS_IPS=${L1_BOCHS_IPS:-1000000000}

l1_accel_missing() {
	case $1 in
	tcg | kvm) command -v qemu-system-x86_64 >/dev/null || echo "qemu-system-x86_64 not found (apt-get install qemu-system-x86, or make deps)" ;;
	bochs)
		l1_bochs_select
		if [[ -z $L1_BOCHS ]]; then
			echo "bochs not found (apt-get install bochs bochsbios vgabios, or make deps)"
		elif [[ ! -r /usr/share/bochs/BIOS-bochs-latest || ! -r /usr/share/bochs/VGABIOS-lgpl-latest ]]; then
			echo "the Bochs BIOS images are missing (apt-get install bochsbios vgabios)"
		elif ! command -v xorriso >/dev/null || [[ ! -r /usr/lib/ISOLINUX/isolinux.bin ]]; then
			echo "xorriso or isolinux missing for Bochs' boot CD (apt-get install xorriso isolinux syslinux-common)"
		fi
		;;
	*) echo "unknown accelerator '$1' (one of: $L1_ACCELS)" ;;
	esac
}

l1_accel_vendor() {
	case $1 in
	tcg) echo amd ;;
	bochs) echo intel ;;
	kvm) if grep -q '^vendor_id.*GenuineIntel' /proc/cpuinfo; then echo intel; else echo amd; fi ;;
	esac
}

l1_accel_emulator() { if [[ $1 == bochs ]]; then echo Bochs; else echo QEMU; fi; }

# A Bochs boot costs 1.5-3 min, a kvm_intel reload 15-20 s; a TCG or KVM boot ~10 s, and one
# QEMU per cell keeps the cores busy in parallel.
l1_accel_shares_boots() { [[ $1 == bochs ]]; }

l1_phys_bits_ok() { [[ $1 =~ ^[1-9][0-9]$ ]] && (($1 >= L1_PHYS_BITS_MIN && $1 <= L1_PHYS_BITS_MAX)); }

l1_accel_phys_bits_missing() {
	case $1 in
	tcg | kvm) ;;
	*) echo "Bochs' CPU models have a fixed address width: --phys-bits needs --accel tcg or kvm" ;;
	esac
}

l1_accel_lacks() {
	case $1:$2 in
	bochs:enable_apicv)
		l1_bochs_select
		[[ $L1_BOCHS_RIG == 1 ]] ||
			echo "Debian's bochs 2.7 emulates no posted interrupts, so kvm_intel turns APICv off ($L1_BOCHS_WHY)"
		;;
	esac
}

# Which Bochs: RIG_BOCHS, else the project's build when it is current, else Debian's 2.7.
# Decided once per shell; call it before any $(...) that needs it. The callers name
# L1_BOCHS_WHICH once in their own status line (the fallback and its reason included).
L1_BOCHS='' L1_BOCHS_WHICH='' L1_BOCHS_WHY='' L1_BOCHS_RIG=0
l1_bochs_select() {
	[[ -z $L1_BOCHS_WHICH ]] || return 0
	local root rig
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	if [[ -n ${RIG_BOCHS:-} ]]; then
		L1_BOCHS=$RIG_BOCHS
		[[ -r $(dirname "$RIG_BOCHS")/patches ]] && L1_BOCHS_RIG=1
		L1_BOCHS_WHICH="$RIG_BOCHS (RIG_BOCHS)"
	elif rig=$("$root/ci/bochs/build" --check 2>/dev/null); then
		L1_BOCHS=$rig L1_BOCHS_RIG=1
		L1_BOCHS_WHICH="the project's Bochs 3.0 ($rig; patches: $(paste -sd' ' "$(dirname "$rig")/patches"))"
	else
		L1_BOCHS=$(command -v bochs || true)
		L1_BOCHS_WHY=${rig:-"the project's Bochs is not built: make bochs"}
		L1_BOCHS_WHICH="Debian's bochs 2.7 (${L1_BOCHS:-not installed}): $L1_BOCHS_WHY"
	fi
}

l1_accel_normal_exit() {
	case $1 in
	bochs) [[ $2 == 1 ]] ;; # "ACPI control: soft power off" ends Bochs with 1
	*) [[ $2 == 0 ]] ;;
	esac
}

l1_accel_command() {
	local accel=$1 dir=$2 kernel=$3 initrd=$4 append=$5 mem=$6
	shift 6
	L1_STDIN=/dev/null
	case $accel in
	tcg | kvm) l1_qemu_command "$accel" "$kernel" "$initrd" "$append" "$mem" "$@" ;;
	bochs) l1_bochs_command "$dir" "$kernel" "$initrd" "$append" "$mem" "$@" ;;
	esac
	printf '%q ' "${L1_CMD[@]}" >"$dir/l1.cmd"
	echo >>"$dir/l1.cmd"
}

l1_qemu_command() {
	local accel=$1 kernel=$2 initrd=$3 append=$4 mem=$5 cpu=max f
	shift 5
	[[ $accel == kvm ]] && cpu=host
	L1_CMD=(qemu-system-x86_64 -M q35 -cpu "${L1_CPU:-$cpu}${L1_PHYS_BITS:+,phys-bits=$L1_PHYS_BITS}"
		-accel "$accel" -m "$mem" -smp 1
		-nographic -no-reboot -monitor none -nic none)
	for f in "$@"; do L1_CMD+=(-serial "file:$f"); done
	L1_CMD+=(-kernel "$kernel" -initrd "$initrd" -append "console=ttyS0 $append")
}

# Bochs boots a CD (isolinux): it has no -kernel. The CD holds the kernel, the initramfs and
# the command line, so it is cached under the hash of those three and reused when they repeat.
# L1 must be told its TSC rate: Bochs' TSC runs at `ips` per emulated second (clock sync=none,
# deterministic), while L1 would assume the model's 3.5 GHz and its time would crawl.
l1_bochs_command() {
	local dir=$1 kernel=$2 initrd=$3 append=$4 mem=$5 iso
	shift 5
	append="console=ttyS0,115200 tsc_early_khz=$((L1_BOCHS_IPS / 1000)) rig.flush=16384 $append"
	iso=$(l1_bochs_iso "$kernel" "$initrd" "$append") || return 1
	l1_bochs_select
	{
		echo "# written by ci/l1/accel.bash; run as: bochs -q -f bochsrc (stdin: c, quit)"
		echo "# Bochs: $L1_BOCHS_WHICH"
		echo "megs: ${mem%M}"
		echo "romimage: file=/usr/share/bochs/BIOS-bochs-latest"
		echo "vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest"
		echo "cpu: model=${L1_CPU:-corei7_skylake_x}, count=1, ips=$L1_BOCHS_IPS, reset_on_triple_fault=0"
		echo "ata0-master: type=cdrom, path=$iso, status=inserted"
		echo "boot: cdrom"
		local n=1 f
		for f in "$@"; do
			echo "com$n: enabled=1, mode=file, dev=$f"
			n=$((n + 1))
		done
		echo 'display_library: rfb, options="timeout=0"'
		echo "clock: sync=none, time0=local"
		echo "pci: enabled=1, chipset=i440fx"
		echo "mouse: enabled=0"
		# Without a sound card here, Debian's ALSA driver aborts Bochs ("buffer overflow detected");
		# the project's lean build has no sound compiled in, and refuses the line.
		if [[ $L1_BOCHS_RIG == 0 ]]; then
			echo "speaker: enabled=0"
			echo "sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy"
		fi
		echo "log: $dir/bochs.log"
		echo "panic: action=fatal"
		echo "error: action=report"
	} >"$dir/bochsrc"
	printf 'c\nquit\n' >"$dir/bochs.stdin"
	L1_STDIN=$dir/bochs.stdin
	L1_CMD=("$L1_BOCHS" -q -f "$dir/bochsrc")
}

# l1_bochs_iso KERNEL INITRD APPEND: the path of the cached boot CD (built when missing).
l1_bochs_iso() {
	local kernel=$1 initrd=$2 append=$3 cache key stage iso
	cache=${L1_BOCHS_CACHE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/bochs}
	key=$({ sha256sum "$kernel" "$initrd" | cut -d' ' -f1; echo "$append"; } | sha256sum | cut -c1-16)
	iso=$cache/boot-$key.iso
	[[ -s $iso ]] && { echo "$iso"; return 0; }
	mkdir -p "$cache"
	stage=$(mktemp -d "$cache/stage.XXXXXX")
	mkdir -p "$stage/isolinux"
	cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$stage/isolinux/"
	cp "$kernel" "$stage/vmlinuz"
	cp "$initrd" "$stage/initrd.gz"
	printf 'DEFAULT l1\nPROMPT 0\nTIMEOUT 0\nLABEL l1\n  KERNEL /vmlinuz\n  APPEND initrd=/initrd.gz %s\n' \
		"$append" >"$stage/isolinux/isolinux.cfg"
	if ! xorriso -as mkisofs -quiet -o "$iso.tmp" -b isolinux/isolinux.bin -c isolinux/boot.cat \
		-no-emul-boot -boot-load-size 4 -boot-info-table "$stage" >"$stage.log" 2>&1; then
		echo "l1-accel: xorriso could not build the Bochs boot CD: $(tail -n 1 "$stage.log")" >&2
		rm -rf "$stage" "$stage.log" "$iso.tmp"
		return 1
	fi
	mv -f "$iso.tmp" "$iso"
	rm -rf "$stage" "$stage.log"
	# Old CDs of other inputs: keep the cache small (a CD is ~60 MB).
	find "$cache" -maxdepth 1 -name 'boot-*.iso' -mmin +1440 -delete 2>/dev/null || true
	echo "$iso"
}
