"""tools/stats.py against scipy.stats.mannwhitneyu, when scipy is installed
(Debian's python3-scipy); skipped otherwise (exit 77 as a script)."""

import random
import sys
import unittest

import crafted

MISSING = crafted.require_module("scipy", "python3-scipy")
load_tests = crafted.skip_everything_when(MISSING)

if MISSING is None:
    from scipy.stats import mannwhitneyu  # noqa: E402

import stats  # noqa: E402


class AgreesWithScipy(unittest.TestCase):
    def check(self, first, second):
        u, p, method = stats.mann_whitney_u(first, second)
        # Our method picks the exact distribution without ties (up to
        # stats.EXACT_LIMIT values); ask scipy for the same one.
        reference = mannwhitneyu(first, second, alternative="two-sided",
                                 method="exact" if method == "exact" else "asymptotic")
        self.assertAlmostEqual(u, reference.statistic, places=9, msg=(first, second))
        self.assertAlmostEqual(p, reference.pvalue, places=12, msg=(first, second))

    def test_without_ties_exact(self):
        rng = random.Random(11)
        for _ in range(300):
            shift = rng.choice([0, 0.2, 0.5, 1.0])
            first = [rng.random() for _ in range(rng.randint(1, 20))]
            second = [rng.random() + shift for _ in range(rng.randint(1, 20))]
            self.check(first, second)

    def test_with_ties(self):
        # Above stats.EXACT_LIMIT values: the normal approximation, as scipy's
        # default. (Below it, ties get the permutation distribution, which
        # scipy 1.10 does not count: test_stats.py checks it by enumeration.)
        rng = random.Random(12)
        for _ in range(100):
            first = [rng.randint(0, 6) for _ in range(rng.randint(25, 45))]
            second = [rng.randint(1, 7) for _ in range(rng.randint(stats.EXACT_LIMIT + 1 - len(first), 45))]
            self.check(first, second)

    def test_large_samples(self):
        rng = random.Random(13)
        for size in (31, 45, 80):
            self.check([rng.gauss(0, 1) for _ in range(size)],
                       [rng.gauss(0.3, 1) for _ in range(size)])


if __name__ == "__main__":
    print("scipy from %s" % sys.modules["scipy"].__file__)
    unittest.main()
