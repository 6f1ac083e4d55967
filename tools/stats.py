"""Statistics for comparing benchmark repetitions: Mann-Whitney U, geometric mean.

Written here (standard library only) so the tools run without scipy; the
p-values agree with scipy.stats.mannwhitneyu (tests/tools/test_stats_scipy.py),
except for small samples with ties, where scipy's default normal approximation
gives p-values the permutation distribution cannot reach and this module
counts that distribution instead.
"""

import math
import random
import statistics
from functools import lru_cache

# Up to this many values on both sides together the p-value comes from the
# exact distribution of U (with ties, of U over every split of the midranks);
# beyond it, the normal approximation is accurate and the exact counts grow large.
EXACT_LIMIT = 60


def _midranks(values):
    """Ranks 1..n of values, tied values sharing the mean of their ranks; also
    the sizes of the groups of ties."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    tie_sizes = []
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        shared_rank = (start + end) / 2 + 1
        for position in range(start, end + 1):
            ranks[order[position]] = shared_rank
        tie_sizes.append(end - start + 1)
        start = end + 1
    return ranks, tie_sizes


@lru_cache(maxsize=256)
def _u_counts(m, n):
    """How many of the C(m+n, m) orderings of two samples (sizes m, n) give each
    U = 0..m*n: the coefficients of the Gaussian binomial [m+n choose m](q),
    built as the product over i = 1..m of (1 - q^(n+i)) / (1 - q^i)."""
    counts = [1]
    for i in range(1, m + 1):
        grown = counts + [0] * (n + i)           # multiply by (1 - q^(n+i))
        for power in range(len(grown) - 1, n + i - 1, -1):
            grown[power] -= grown[power - n - i]
        for power in range(i, len(grown)):       # divide by (1 - q^i): exact
            grown[power] += grown[power - i]
        counts = grown[:i * n + 1]            # the quotient has degree i*n
    return tuple(counts)


def _exact_p_with_ties(ranks, m, u_first):
    """Two-sided p of U over every way to split the pooled midranks into samples
    of m and the rest (the permutation distribution with the ties as they are)."""
    doubled = [int(round(2 * r)) for r in ranks]       # midranks are halves
    ways = [{} for _ in range(m + 1)]                   # ways[k][sum of k doubled ranks]
    ways[0][0] = 1
    for value in doubled:
        for k in range(m, 0, -1):
            for total, count in ways[k - 1].items():
                ways[k][total + value] = ways[k].get(total + value, 0) + count
    n = len(ranks) - m
    observed = abs(u_first - m * n / 2)
    extreme = sum(count for total, count in ways[m].items()
                  if abs(total / 2 - m * (m + 1) / 2 - m * n / 2) >= observed - 1e-9)
    return extreme / math.comb(m + n, m)


def _normal_sf(z):
    return 0.5 * math.erfc(z / math.sqrt(2))


def mann_whitney_u(first, second):
    """Two-sided Mann-Whitney U test of two samples.

    Returns (U of the first sample, p-value, method) where method is "exact"
    (no ties, small samples: the exact distribution of U), "exact-ties" (ties,
    small samples: the permutation distribution of U) or "normal" (normal
    approximation with tie correction and continuity correction). p is 1.0 when
    a side is empty or every value is equal.
    """
    m, n = len(first), len(second)
    if m == 0 or n == 0:
        return None, 1.0, "none"
    ranks, tie_sizes = _midranks(list(first) + list(second))
    u_first = sum(ranks[:m]) - m * (m + 1) / 2
    u_larger = max(u_first, m * n - u_first)
    has_ties = any(size > 1 for size in tie_sizes)

    if not has_ties and m + n <= EXACT_LIMIT:
        counts = _u_counts(min(m, n), max(m, n))
        at_least = sum(counts[int(round(u_larger)):])
        p = 2 * at_least / math.comb(m + n, m)
        return u_first, min(1.0, p), "exact"
    if m + n <= EXACT_LIMIT:
        # Ties in small samples: the normal approximation gives p-values the
        # permutation distribution cannot reach (3 against 3: 0.047 for 0.1).
        return u_first, _exact_p_with_ties(ranks, m, u_first), "exact-ties"

    total = m + n
    tie_term = sum(t ** 3 - t for t in tie_sizes)
    variance = m * n / 12 * ((total + 1) - tie_term / (total * (total - 1)))
    if variance <= 0:
        return u_first, 1.0, "normal"      # every value is equal
    z = (u_larger - m * n / 2 - 0.5) / math.sqrt(variance)
    return u_first, min(1.0, 2 * _normal_sf(z)), "normal"


def geometric_mean(values):
    """Geometric mean of positive values; None when there are none."""
    values = list(values)
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def ratio(new, old):
    """new / old, None when either is missing or old is not positive."""
    if new is None or old is None or old <= 0 or new < 0:
        return None
    return new / old


class Spread:
    """Median and extremes of one figure over the repetitions."""

    __slots__ = ("median", "low", "high", "count")

    def __init__(self, values):
        values = sorted(values)
        if not values:
            raise ValueError("no values")
        self.count = len(values)
        self.median = statistics.median(values)
        self.low, self.high = values[0], values[-1]


def spread_or_none(values):
    values = list(values)
    return Spread(values) if values else None


def bootstrap_geomean_interval(groups, level=0.95, resamples=1000, seed=1):
    """Percentile bootstrap interval (low, high) of the geometric mean, over
    groups, of median(mine) / median(theirs); groups is a list of (mine,
    theirs) lists of values (the repetitions of two configurations on one
    trace). Each list is redrawn with replacement on its own, so the interval
    says how far the figure moves with the repetitions a run happened to get,
    not the drift the two sides shared (that pairing is left out: wider, not
    narrower). Values of 0 or below are left out, as the geometric means leave
    out such medians. The same groups give the same interval (seeded). None
    when no group has a positive value on both sides."""
    if not 0 < level < 1 or resamples < 1:
        raise ValueError("level in (0, 1) and at least one resample")
    kept = []
    for mine, theirs in groups:
        mine, theirs = [v for v in mine if v > 0], [v for v in theirs if v > 0]
        if mine and theirs:
            kept.append((mine, theirs))
    if not kept:
        return None
    rng = random.Random(seed)
    means = []
    for _ in range(resamples):
        logs = 0.0
        for mine, theirs in kept:
            drawn_mine = statistics.median(rng.choices(mine, k=len(mine)))
            drawn_theirs = statistics.median(rng.choices(theirs, k=len(theirs)))
            logs += math.log(drawn_mine / drawn_theirs)
        means.append(math.exp(logs / len(kept)))
    means.sort()
    tail = (1 - level) / 2
    low = means[min(resamples - 1, int(tail * resamples))]
    high = means[max(0, math.ceil((1 - tail) * resamples) - 1)]
    return low, high
