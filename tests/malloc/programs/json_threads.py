# A CPython workload for the drop-in malloc: JSON, dicts, strings and threads.
# Run with PYTHONMALLOC=malloc so every object goes through malloc. Its output
# is the same on any correct allocator.
import hashlib
import json
import threading

def build(seed, n):
    data = {}
    for i in range(n):
        key = f"k{seed}-{i:06d}"
        data[key] = {"id": i, "name": key * (1 + i % 5), "tags": [str(j) for j in range(i % 7)],
                     "score": (i * 2654435761 + seed) % 1000003 / 7.0}
    return data

def work(seed, results):
    data = build(seed, 20000)
    text = json.dumps(data, sort_keys=True)
    back = json.loads(text)
    words = " ".join(v["name"] for v in back.values()).split("-")
    counts = {}
    for w in words:
        counts[w[:4]] = counts.get(w[:4], 0) + 1
    digest = hashlib.sha256(text.encode()).hexdigest()
    results[seed] = (len(text), len(counts), digest)

results = {}
threads = [threading.Thread(target=work, args=(seed, results)) for seed in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for seed in sorted(results):
    print(seed, *results[seed])
