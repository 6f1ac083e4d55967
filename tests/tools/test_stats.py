"""tools/stats.py: Mann-Whitney U p-values and summaries, without scipy."""

import itertools
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

    @staticmethod
    def permutation_p(first, second):
        """Two-sided p by enumerating every split of the pooled values."""
        pooled = list(first) + list(second)
        m, n = len(first), len(second)
        ranks, _ = stats._midranks(pooled)
        centre = m * n / 2
        observed = abs(sum(ranks[:m]) - m * (m + 1) / 2 - centre)
        splits = list(itertools.combinations(range(m + n), m))
        extreme = sum(1 for chosen in splits
                      if abs(sum(ranks[i] for i in chosen) - m * (m + 1) / 2 - centre) >= observed - 1e-9)
        return extreme / len(splits)

    def test_ties_in_small_samples_use_the_permutation_distribution(self):
        # Memory figures often repeat exactly: 3 equal values against 3 equal
        # ones is the most extreme of 20 splits, both tails, p = 0.1 (the
        # normal approximation said 0.047, and a verdict of "fatter").
        u, p, method = stats.mann_whitney_u([2.0, 2.0, 2.0], [2.2, 2.2, 2.2])
        self.assertEqual((u, method), (0, "exact-ties"))
        self.assertAlmostEqual(p, 0.1)
        for first, second in (([1, 1, 2, 3, 3, 4], [3, 4, 4, 5, 5, 6, 6]),
                              ([5, 5, 5, 6, 7], [8, 8]),
                              ([1, 2, 2, 2], [2, 3, 3, 9, 9]),
                              ([4, 4], [4, 4, 5])):
            u, p, method = stats.mann_whitney_u(first, second)
            self.assertEqual(method, "exact-ties")
            self.assertAlmostEqual(p, self.permutation_p(first, second), places=12, msg=(first, second))

    def test_ties_in_large_samples_use_the_normal_approximation(self):
        # Reference value from scipy.stats.mannwhitneyu(method="asymptotic"),
        # scipy 1.10.1 (tie and continuity corrections).
        first = [i % 7 for i in range(35)]
        second = [i % 9 + 1 for i in range(40)]
        u, p, method = stats.mann_whitney_u(first, second)
        self.assertEqual(method, "normal")
        self.assertEqual(u, 440.0)
        self.assertAlmostEqual(p, 0.005525746102834656, places=12)

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


class BootstrapInterval(unittest.TestCase):
    def assertClose(self, found, expected):
        self.assertEqual(len(found), len(expected))
        for a, b in zip(found, expected):
            self.assertAlmostEqual(a, b)

    def test_no_spread_gives_the_point_itself(self):
        groups = [([20.0] * 5, [10.0] * 5), ([30.0] * 3, [10.0] * 4)]
        low, high = stats.bootstrap_geomean_interval(groups)
        self.assertAlmostEqual(low, math.sqrt(2 * 3))
        self.assertAlmostEqual(high, math.sqrt(2 * 3))

    def test_the_tails_of_a_known_distribution(self):
        # The median of two draws from {1, 3} is 1, 2 or 3 with odds 1:2:1:
        # 95% of the resamples lie within 1-3, and 40% (30% cut off on each
        # side) within 2-2.
        groups = [([1.0, 3.0], [1.0])]
        self.assertClose(stats.bootstrap_geomean_interval(groups), (1.0, 3.0))
        self.assertClose(stats.bootstrap_geomean_interval(groups, level=0.4), (2.0, 2.0))
        # The baseline's repetitions are drawn again too.
        self.assertClose(stats.bootstrap_geomean_interval([([2.0], [1.0, 3.0])]), (2 / 3, 2.0))

    def test_the_interval_holds_the_figure_and_widens_with_the_noise(self):
        calm = [([9.8, 10.0, 10.1, 10.2, 9.9], [5.0, 5.1, 4.9, 5.0, 5.05])] * 4
        noisy = [([6.0, 10.0, 14.0, 8.0, 12.0], [5.0, 3.0, 7.0, 4.0, 6.0])] * 4
        for groups in (calm, noisy):
            low, high = stats.bootstrap_geomean_interval(groups)
            self.assertLessEqual(low, 2.0)
            self.assertGreaterEqual(high, 2.0)
        calm_low, calm_high = stats.bootstrap_geomean_interval(calm)
        noisy_low, noisy_high = stats.bootstrap_geomean_interval(noisy)
        self.assertLess(calm_high - calm_low, (noisy_high - noisy_low) / 4)

    def test_the_same_groups_give_the_same_interval(self):
        groups = [([6.0, 10.0, 14.0, 8.0, 12.0], [5.0, 3.0, 7.0, 4.0, 6.0])] * 3
        self.assertEqual(stats.bootstrap_geomean_interval(groups),
                         stats.bootstrap_geomean_interval(groups))
        self.assertNotEqual(stats.bootstrap_geomean_interval(groups, seed=1),
                            stats.bootstrap_geomean_interval(groups, seed=2))

    def test_values_of_zero_are_left_out(self):
        self.assertClose(stats.bootstrap_geomean_interval([([0.0, 4.0], [2.0]), ([0.0], [1.0])]),
                         (2.0, 2.0))
        self.assertIsNone(stats.bootstrap_geomean_interval([([0.0], [1.0]), ([1.0], [])]))

    def test_a_level_outside_zero_to_one_is_refused(self):
        for level in (0, 1, 1.5):
            with self.assertRaises(ValueError):
                stats.bootstrap_geomean_interval([([1.0], [1.0])], level=level)


if __name__ == "__main__":
    unittest.main()
