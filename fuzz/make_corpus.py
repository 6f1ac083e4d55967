#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_arena_ops into fuzz/corpus/arena_ops/.

Each seed is 4 configuration bytes and a hundred or more ops in the encoding
of fuzz_arena_ops.c (6 bytes each: op byte % 17, then 5 argument bytes), drawn
from a fixed random generator, so the files are the same on every run:
    python3 fuzz/make_corpus.py
"""
import os
import random

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "arena_ops")

(MALLOC, MALLOC2, CALLOC, REALLOC, REALLOC2, MEMALIGN, FREE, FREE2, USABLE, RESET, VERIFY,
 DOUBLE_FREE, INTERIOR, FOREIGN, WRONG_ARENA, OTHER, EDGE) = range(17)


def size(rng, big):
    """3 bytes for take_size: kind byte, then 16 bits."""
    r = rng.random()
    if r < 0.55:
        k = rng.choice([0, 1, 2, 3])            # 0..128
    elif r < 0.8:
        k = rng.choice([4, 5])                  # ..8 KiB
    elif r < 0.93 or not big:
        k = 6                                   # ..300 KB
    elif r < 0.99:
        k = 7 | 8                               # ..4 MiB
    else:
        k = 7                                   # about 16 MiB
    return [k, rng.randrange(256), rng.randrange(256)]


def frame(op, args, rng):
    """An op: its byte and 5 argument bytes (unused ones random)."""
    args = list(args) + [rng.randrange(256) for _ in range(5 - len(args))]
    return [op] + args


def program(rng, ops, big=True, misuse=0.15):
    out = []
    for _ in range(ops):
        r = rng.random()
        if r < misuse:
            op = rng.choice([DOUBLE_FREE, INTERIOR, FOREIGN, WRONG_ARENA, OTHER, OTHER])
            args = [rng.randrange(256)]
            if op == INTERIOR:
                args[0] |= 1  # block_size multiples: the seeds pass on today's allocator
            out += frame(op, args, rng)
        elif r < misuse + 0.3:
            out += frame(MALLOC, size(rng, big), rng)
        elif r < misuse + 0.35:
            out += frame(CALLOC, [rng.randrange(256)] + size(rng, big), rng)
        elif r < misuse + 0.5:
            out += frame(REALLOC, [rng.randrange(1, 256)] + size(rng, big), rng)
        elif r < misuse + 0.55:
            out += frame(MEMALIGN, [rng.randrange(240)] + size(rng, big), rng)
        elif r < misuse + 0.8:
            out += frame(FREE, [], rng)
        elif r < misuse + 0.85:
            out += frame(USABLE, [], rng)
        elif r < misuse + 0.87:
            out += frame(RESET, [], rng)
        elif r < misuse + 0.9:
            out += frame(EDGE, [], rng)
        else:
            out += frame(VERIFY, [], rng)
    return out


# name, (c0, c1, c2, c3), seed, ops, big sizes, misuse share
SEEDS = [
    ("default-bs16", (0x00, 1, 0, 0x00), 1, 150, True, 0.15),
    ("default-bs8-region64k", (0x00, 0, 7, 0x01), 2, 150, False, 0.25),
    ("default-bs4096-threadsafe", (0x02, 9, 6, 0x02), 3, 120, True, 0.15),
    ("seed-bs16", (0x01, 1, 0, 0x00), 4, 150, False, 0.15),
    ("seed-bs64-region1m-threadsafe", (0x03, 3, 4, 0x01), 5, 120, True, 0.2),
    ("default-cap1m", (0x14, 1, 1, 0x00), 6, 150, True, 0.1),
    ("seed-cap256k", (0x11, 1, 0, 0x00), 7, 120, False, 0.1),
    ("default-faults-every3", (0xC0, 1, 2, 0x00), 8, 150, True, 0.1),
    ("seed-faults-every11", (0xE1, 2, 0, 0x01), 9, 150, False, 0.1),
    ("default-misuse", (0x00, 2, 0, 0x01), 10, 150, False, 0.5),
    ("default-checked", (0x00, 1, 0, 0x04), 11, 150, True, 0.15),
    ("default-secure-threadsafe", (0x02, 2, 0, 0x08), 12, 150, True, 0.15),
    ("default-checked-secure-misuse", (0x00, 1, 0, 0x0C), 13, 150, False, 0.5),
    ("default-checked-cap1m-faults-every11", (0xF4, 3, 2, 0x04), 14, 150, True, 0.1),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, config, seed, ops, big, misuse in SEEDS:
        rng = random.Random(seed)
        data = bytes(list(config) + program(rng, ops, big, misuse))
        with open(os.path.join(OUT, "seed-" + name), "wb") as f:
            f.write(data)
        print("%-40s %5d bytes" % ("seed-" + name, len(data)))


if __name__ == "__main__":
    main()
