"""CPython workload of bench_realprog, run with PYTHONMALLOC=malloc so that every
object goes through the allocator under test: JSON round trips, dicts of
lists, string building, and four threads doing the same on data of their own
(blocks made by one thread are often freed by another when the GIL passes).
Deterministic: its own random generator, no clock, no environment."""
import hashlib
import json
import threading

WORDS = ["arena", "block", "chunk", "slab", "page", "region", "heap", "bin",
         "span", "segment", "cache", "free", "list", "tree", "class", "size"]


def records(seed, count):
    state = seed
    for i in range(count):
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        yield {
            "id": i,
            "name": "-".join(WORDS[(state >> s) % len(WORDS)] for s in range(0, 40, 10)),
            "tags": [WORDS[(state >> s) % len(WORDS)] for s in range(3, 3 + (state % 7) * 5, 5)],
            "value": (state >> 20) % 100000 / 7.0,
            "attrs": {"k%d" % k: k * i for k in range(state % 6)},
        }


def work(seed, rounds=6, count=4000):
    digest = hashlib.sha256()
    for r in range(rounds):
        batch = list(records(seed * 100 + r, count))
        text = json.dumps(batch, sort_keys=True)
        back = json.loads(text)
        by_tag = {}
        for rec in back:
            for tag in rec["tags"]:
                by_tag.setdefault(tag, []).append(rec["id"])
        summary = {tag: (len(ids), sum(ids) % 9973) for tag, ids in sorted(by_tag.items())}
        lines = ["%s=%d/%d" % (tag, n, s) for tag, (n, s) in summary.items()]
        joined = ";".join(lines) + "|" + "".join(rec["name"][:3] for rec in back[:500])
        digest.update(joined.encode())
        digest.update(json.dumps(summary, sort_keys=True).encode())
    return digest.hexdigest()


results = {}


def thread_main(seed):
    results[seed] = work(seed)


threads = [threading.Thread(target=thread_main, args=(seed,)) for seed in range(1, 5)]
for t in threads:
    t.start()
results[0] = work(0)
for t in threads:
    t.join()
for seed in sorted(results):
    print(seed, results[seed])
