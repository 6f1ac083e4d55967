"""tools/stats.py: Mann-Whitney U p-values and summaries, without scipy."""

import math
import unittest

import crafted  # noqa: F401  (puts tools/ on sys.path)
import stats


class ExactDistribution(unittest.TestCase):
    def test_counts_cover_every_ordering(self):
        for m, n in ((1, 1), (3, 4), (5, 5), (2, 9)):
            counts = stats._u_counts(m, n)
            self.assertEqual(len(counts), m * n + 1)
            self.assertEqual(sum(counts), math.comb(m + n, m))
            self.assertEqual(counts, counts[::-1], "U is symmetric around m*n/2")

    def test_small_known_counts(self):
        # Orderings of 2 + 2 values: U = 0, 1, 2, 3, 4 in 1, 1, 2, 1, 1 ways.
        self.assertEqual(stats._u_counts(2, 2), (1, 1, 2, 1, 1))


class MannWhitney(unittest.TestCase):
    def test_separated_samples_exact(self):
        # Three below three: the most extreme of C(6,3) = 20 orderings, both tails.
        u, p, method = stats.mann_whitney_u([1, 2, 3], [4, 5, 6])
        self.assertEqual((u, method), (0, "exact"))
        self.assertAlmostEqual(p, 2 / 20)
        u, p, method = stats.mann_whitney_u([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])
        self.assertEqual(u, 25)
        self.assertAlmostEqual(p, 2 / 252)

    def test_interleaved_samples_are_not_different(self):
        u, p, _ = stats.mann_whitney_u([1, 3, 5, 7], [2, 4, 6, 8])
        self.assertEqual(u, 6)
        self.assertGreater(p, 0.5)

    def test_ties_use_the_normal_approximation(self):
        # Reference value from scipy.stats.mannwhitneyu(method="asymptotic"),
        # scipy 1.10.1 (tie and continuity corrections).
        u, p, method = stats.mann_whitney_u([1, 1, 2, 3, 3, 4], [3, 4, 4, 5, 5, 6, 6])
        self.assertEqual(method, "normal")
        self.assertEqual(u, 3.0)
        self.assertAlmostEqual(p, 0.011128012415, places=10)

    def test_all_equal_or_empty_gives_one(self):
        self.assertEqual(stats.mann_whitney_u([2, 2, 2], [2, 2])[1], 1.0)
        self.assertEqual(stats.mann_whitney_u([], [1, 2])[1], 1.0)

    def test_large_samples_use_the_normal_approximation(self):
        first = list(range(0, 80, 2))
        second = list(range(1, 81, 2))
        u, p, method = stats.mann_whitney_u(first, second)
        self.assertEqual(method, "normal")
        self.assertGreater(p, 0.5)


class Summaries(unittest.TestCase):
    def test_geometric_mean(self):
        self.assertAlmostEqual(stats.geometric_mean([1.2, 1 / 1.2]), 1.0)
        self.assertAlmostEqual(stats.geometric_mean([2, 8]), 4.0)
        self.assertIsNone(stats.geometric_mean([]))

    def test_spread(self):
        spread = stats.Spread([5, 1, 4, 2, 3, 3.5])
        self.assertEqual((spread.median, spread.low, spread.high, spread.count),
                         (3.25, 1, 5, 6))
        self.assertIsNone(stats.spread_or_none([]))


if __name__ == "__main__":
    unittest.main()
