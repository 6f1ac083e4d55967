"""A JSON- and dict-heavy CPython workload for recording (run with
PYTHONMALLOC=malloc so every object goes through malloc). Deterministic: a fixed
seed, no clock, no environment."""
import json
import random
from collections import Counter, defaultdict

rng = random.Random(1)
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
         "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi", "rho"]


def make_record(i):
    return {
        "id": i,
        "name": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4))),
        "tags": [rng.choice(WORDS) for _ in range(rng.randint(0, 6))],
        "score": rng.random() * 100,
        "attrs": {rng.choice(WORDS) + str(k): k * i for k in range(rng.randint(0, 5))},
    }


totals = Counter()
for batch in range(5):
    records = [make_record(batch * 2000 + i) for i in range(2000)]
    text = json.dumps(records, sort_keys=True)
    back = json.loads(text)
    index = defaultdict(list)
    for r in back:
        for tag in r["tags"]:
            index[tag].append(r["id"])
        totals.update(r["attrs"].keys())
    # re-shape: a dict of dicts keyed by name, then a round trip through JSON again
    by_name = {r["name"]: {"n": len(r["tags"]), "score": round(r["score"], 3)} for r in back}
    again = json.loads(json.dumps(by_name))
    print(batch, len(text), len(index), len(again))

print(len(totals), sum(totals.values()), totals.most_common(3))
