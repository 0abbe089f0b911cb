#!/usr/bin/env python3
"""Guest images for tests/055-images.bats and tests/060-fuzz.bats.

  elfimg.py bad KIND SRC OUT       write SRC (build/guest.elf) broken as KIND
  elfimg.py kinds                  list the KINDs: "KIND|what the VMM must say"
  elfimg.py mutate --seed S --count N SRC OUTDIR [--only I]
                                   write OUTDIR/NNN.img for image 0..N-1 (or I)
                                   and print "I KIND" per image

Mutant I depends on (S, I) alone, so `--only I` rebuilds exactly the image
that failed. Standard library only.
"""
import argparse
import os
import random
import struct
import sys

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
PT_NULL, PT_LOAD = 0, 1
PF_X = 1
ET_DYN = 3
EM_AARCH64 = 183
U64 = (1 << 64) - 1


class Elf:
    """An ELF64 image with its header and program headers unpacked."""

    def __init__(self, data):
        self.data = bytearray(data)
        f = list(EHDR.unpack_from(self.data, 0))
        (self.ident, self.type, self.machine, self.version, self.entry, self.phoff,
         self.shoff, self.flags, self.ehsize, self.phentsize, self.phnum,
         self.shentsize, self.shnum, self.shstrndx) = f
        self.ph = [list(PHDR.unpack_from(self.data, self.phoff + i * PHDR.size))
                   for i in range(self.phnum)]

    def set_header(self, **fields):
        for k, v in fields.items():
            setattr(self, k, v)
        EHDR.pack_into(self.data, 0, self.ident, self.type, self.machine, self.version,
                       self.entry, self.phoff, self.shoff, self.flags, self.ehsize,
                       self.phentsize, self.phnum, self.shentsize, self.shnum, self.shstrndx)

    # p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align
    def set_ph(self, i, **fields):
        names = ["type", "flags", "offset", "vaddr", "paddr", "filesz", "memsz", "align"]
        for k, v in fields.items():
            self.ph[i][names.index(k)] = v
        PHDR.pack_into(self.data, self.phoff + i * PHDR.size, *self.ph[i])

    def code(self):
        """Index of the executable PT_LOAD (the one holding the entry point)."""
        for i, p in enumerate(self.ph):
            if p[0] == PT_LOAD and p[1] & PF_X:
                return i
        raise SystemExit("source image has no executable PT_LOAD")

    def data_seg(self):
        for i, p in enumerate(self.ph):
            if p[0] == PT_LOAD and not p[1] & PF_X:
                return i
        raise SystemExit("source image has no data PT_LOAD")


def place(e, gpa, memsz=None):
    """Move the code segment (and the entry with it) to gpa."""
    c = e.code()
    e.set_header(entry=gpa)
    e.set_ph(c, vaddr=gpa, paddr=gpa, memsz=e.ph[c][6] if memsz is None else memsz)


def ident(e, index, value):
    ident = bytearray(e.ident)
    ident[index] = value
    e.set_header(ident=bytes(ident))


def misaligned_phdrs(e):
    """The same program headers, copied to an odd offset in the padding."""
    table = bytes(e.data[e.phoff:e.phoff + e.phnum * PHDR.size])
    new = 0x201
    e.data[new:new + len(table)] = table
    e.set_header(phoff=new)


# KIND: (what the VMM must say, how to break the image)
KINDS = {
    "pristine": (None, lambda e: None),
    "not-elf": ("not an ELF file", None),
    "short-magic": ("not an ELF file", None),
    "elf32": ("not a 64-bit ELF (ELFCLASS64 needed)", lambda e: ident(e, 4, 1)),
    "big-endian": ("not little-endian", lambda e: ident(e, 5, 2)),
    "wrong-machine": ("not an x86-64 ELF (e_machine is not EM_X86_64)",
                      lambda e: e.set_header(machine=EM_AARCH64)),
    "shared-object": ("not an executable (ET_EXEC) ELF", lambda e: e.set_header(type=ET_DYN)),
    "truncated-header": ("truncated ELF header", None),
    "no-phdrs": ("no usable program headers", lambda e: e.set_header(phnum=0)),
    "bad-phentsize": ("no usable program headers", lambda e: e.set_header(phentsize=32)),
    "phoff-past-end": ("program headers lie outside the file",
                       lambda e: e.set_header(phoff=len(e.data) + 8)),
    "phoff-huge": ("program headers lie outside the file", lambda e: e.set_header(phoff=U64 - 7)),
    "phnum-past-end": ("program headers lie outside the file",
                       lambda e: e.set_header(phnum=0xFFFF)),
    "phdrs-truncated": ("program headers lie outside the file", None),
    "no-load": ("no loadable segment",
                lambda e: [e.set_ph(i, type=PT_NULL) for i in range(e.phnum)]),
    "filesz-over-memsz": ("a segment's file size exceeds its memory size",
                          lambda e: e.set_ph(e.code(), filesz=e.ph[e.code()][6] + 1)),
    "data-past-end": ("a segment's data lies outside the file",
                      lambda e: e.set_ph(e.code(), offset=len(e.data))),
    "data-offset-huge": ("a segment's data lies outside the file",
                         lambda e: e.set_ph(e.code(), offset=U64 - 0x10)),
    "not-identity": ("a segment is not identity-mapped (p_vaddr != p_paddr)",
                     lambda e: e.set_ph(e.code(), paddr=e.ph[e.code()][3] + 0x1000)),
    "segment-at-zero": ("a segment lies outside the image window [0x100000, 0x200000)",
                        lambda e: place(e, 0)),
    "segment-over-boot-info": ("a segment lies outside the image window [0x100000, 0x200000)",
                               lambda e: place(e, 0x3000)),
    "segment-over-stack": ("a segment lies outside the image window [0x100000, 0x200000)",
                           lambda e: place(e, 0xFF000)),
    "segment-over-page-tables": ("a segment lies outside the image window [0x100000, 0x200000)",
                                 lambda e: place(e, 0x200000)),
    "segment-across-window-end": ("a segment lies outside the image window [0x100000, 0x200000)",
                                  lambda e: place(e, 0x1FF000, memsz=0x2000)),
    "segment-above-4g": ("a segment lies outside the image window [0x100000, 0x200000)",
                         lambda e: place(e, 0x100100000)),
    "memsz-huge": ("a segment lies outside the image window [0x100000, 0x200000)",
                   lambda e: e.set_ph(e.code(), memsz=U64 & ~0xFFF)),
    "memsz-wraps": ("a segment lies outside the image window [0x100000, 0x200000)",
                    lambda e: e.set_ph(e.code(), memsz=(1 << 64) - 0x100000 + 0x1000)),
    "bss-over-page-tables": ("a segment lies outside the image window [0x100000, 0x200000)",
                             lambda e: e.set_ph(e.data_seg(),
                                                memsz=0x200000 - e.ph[e.data_seg()][4] + 1)),
    "entry-zero": ("the entry point is not inside an executable segment",
                   lambda e: e.set_header(entry=0)),
    "entry-past-code": ("the entry point is not inside an executable segment",
                        lambda e: e.set_header(entry=e.ph[e.code()][3] + e.ph[e.code()][6])),
    "entry-in-data": ("the entry point is not inside an executable segment",
                      lambda e: e.set_header(entry=e.ph[e.data_seg()][3])),
    "entry-huge": ("the entry point is not inside an executable segment",
                   lambda e: e.set_header(entry=U64)),
    "misaligned-phdrs": ("program headers are misaligned in the file", misaligned_phdrs),
}


def bad(kind, src):
    data = open(src, "rb").read()
    if kind == "not-elf":
        return b"#!/bin/sh\necho 'not a guest'\n"
    if kind == "short-magic":
        return data[:3]
    if kind == "truncated-header":
        return data[:40]
    if kind == "phdrs-truncated":
        e = Elf(data)
        return data[:e.phoff + PHDR.size + 20]
    e = Elf(data)
    KINDS[kind][1](e)
    return bytes(e.data)


# Mutations of a valid image: (weight, name).
MUTATIONS = [(30, "header-flips"), (10, "header-fields"), (20, "code-flips"),
             (15, "truncate"), (10, "anywhere-flips"), (8, "random"), (7, "random-elf-magic")]
HEADER_FIELDS = [(0x10, 2), (0x12, 2), (0x18, 8), (0x20, 8), (0x36, 2), (0x38, 2)]
PH_FIELDS = [(0, 4), (4, 4), (8, 8), (16, 8), (24, 8), (32, 8), (40, 8)]
INTERESTING = [0, 1, 0xFF, 0xFFF, 0x1000, 0x100000, 0x1FFFFF, 0x200000, 0x3000, 0x3FFFFF,
               0x400000, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 32, U64, U64 - 0xFFF, (1 << 63)]


def flip(rng, buf, lo, hi, n):
    hi = min(hi, len(buf))
    for _ in range(n):
        if hi <= lo:
            return
        i = rng.randrange(lo, hi)
        buf[i] = rng.randrange(256) if rng.random() < 0.5 else buf[i] ^ (1 << rng.randrange(8))


def mutant(seed, index, src):
    rng = random.Random(f"scratchrig-fuzz:{seed}:{index}")
    kind = rng.choices([m[1] for m in MUTATIONS], weights=[m[0] for m in MUTATIONS])[0]
    buf = bytearray(src)
    e = Elf(src)
    headers_end = e.phoff + e.phnum * PHDR.size
    code = e.ph[e.code()]
    if kind == "header-flips":
        flip(rng, buf, 0, headers_end, rng.randint(1, 4))
    elif kind == "header-fields":
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.5:
                off, size = rng.choice(HEADER_FIELDS)
            else:
                off, size = rng.choice(PH_FIELDS)
                off += e.phoff + rng.randrange(e.phnum) * PHDR.size
            value = rng.choice(INTERESTING) if rng.random() < 0.7 else rng.getrandbits(size * 8)
            value = (value + rng.choice([0, 0, 1, -1])) % (1 << (size * 8))
            buf[off:off + size] = value.to_bytes(size, "little")
    elif kind == "code-flips":
        flip(rng, buf, code[2], code[2] + code[5], rng.randint(1, 8))
    elif kind == "truncate":
        buf = buf[:rng.randrange(0, len(buf))]
    elif kind == "anywhere-flips":
        flip(rng, buf, 0, len(buf), rng.randint(1, 16))
    elif kind == "random":
        buf = bytearray(rng.getrandbits(8) for _ in range(rng.randint(1, 8192)))
    elif kind == "random-elf-magic":
        buf = bytearray(rng.getrandbits(8) for _ in range(rng.randint(16, 8192)))
        buf[0:6] = b"\x7fELF\x02\x01"
    return kind, bytes(buf)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bad")
    b.add_argument("kind", choices=sorted(KINDS))
    b.add_argument("src")
    b.add_argument("out")
    sub.add_parser("kinds")
    m = sub.add_parser("mutate")
    m.add_argument("--seed", required=True)
    m.add_argument("--count", type=int, required=True)
    m.add_argument("--only", type=int)
    m.add_argument("src")
    m.add_argument("outdir")
    a = ap.parse_args()

    if a.cmd == "kinds":
        for k, (msg, _) in KINDS.items():
            if msg is not None:
                print(f"{k}|{msg}")
    elif a.cmd == "bad":
        with open(a.out, "wb") as f:
            f.write(bad(a.kind, a.src))
    else:
        src = open(a.src, "rb").read()
        os.makedirs(a.outdir, exist_ok=True)
        for i in [a.only] if a.only is not None else range(a.count):
            kind, data = mutant(a.seed, i, src)
            with open(os.path.join(a.outdir, f"{i:03d}.img"), "wb") as f:
                f.write(data)
            print(i, kind)
    return 0


if __name__ == "__main__":
    sys.exit(main())
