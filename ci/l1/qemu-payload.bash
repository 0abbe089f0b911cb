# shellcheck shell=bash
# QEMU carried into an L1 whose image has no libc (ci/l1/in-l1 --payload): sourced by
# tests/115-yama-l1.bats and ci/bench/l1-pairs. Nothing runs when it is sourced.
# In L1: DIR/ld.so --library-path DIR/lib DIR/qemu -L DIR/share ...

# qemu_payload QEMU DIR: QEMU in DIR (qemu, ld.so, lib/, share/ with the firmware the pc and
# q35 machines load); prints why not, or nothing.
qemu_payload() {
	local qemu=$1 dir=$2 f src
	[ -x "$qemu" ] || { echo "no qemu-system-x86_64 to run in L1 (apt-get install qemu-system-x86)" && return; }
	mkdir -p "$dir/lib" "$dir/share"
	cp "$qemu" "$dir/qemu"
	ldd "$qemu" >"$dir.ldd" 2>&1 || { echo "ldd $qemu failed: $(head -n 1 "$dir.ldd")" && return; }
	awk '$2 == "=>" && $3 ~ /^\// { print $3 }' "$dir.ldd" | xargs -r cp -L -t "$dir/lib/"
	f=$(awk '$1 ~ /^\// { print $1 }' "$dir.ldd")
	rm -f "$dir.ldd"
	[ -r "$f" ] || { echo "ldd names no loader for $qemu" && return; }
	cp -L "$f" "$dir/ld.so"
	for f in bios-256k.bin kvmvapic.bin; do
		for src in /usr/share/qemu/$f /usr/share/seabios/$f ""; do [ ! -r "$src" ] || break; done
		[ -n "$src" ] || { echo "QEMU's firmware $f is missing (apt-get install qemu-system-x86 seabios)" && return; }
		cp -L "$src" "$dir/share/"
	done
}
