"""A multi-threaded CPython workload for recording (PYTHONMALLOC=malloc):
producer threads build records, consumer threads encode and drop them, so many
objects are freed by a thread other than the one that allocated them.
Deterministic in what it computes; the interleaving is the scheduler's."""
import json
import queue
import random
import threading

ITEMS_PER_PRODUCER = 7000
PRODUCERS, CONSUMERS = 2, 2
work = queue.Queue(maxsize=256)
results = []
results_lock = threading.Lock()


def produce(seed):
    rng = random.Random(seed)
    for i in range(ITEMS_PER_PRODUCER):
        work.put({"id": i, "seed": seed, "values": [rng.random() for _ in range(rng.randint(1, 12))],
                  "label": "item-%d-%d" % (seed, i) * rng.randint(1, 3)})
    work.put(None)


def consume():
    total = 0
    while True:
        item = work.get()
        if item is None:
            break
        total += len(json.dumps(item, sort_keys=True))
    with results_lock:
        results.append(total)


threads = [threading.Thread(target=produce, args=(s,)) for s in range(PRODUCERS)]
threads += [threading.Thread(target=consume) for _ in range(CONSUMERS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(len(results), sum(results))
