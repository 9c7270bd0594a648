"""`make bench` judges section 1 on the median round: both figures come from one round, the
one whose efficiency is the median, never from two different rounds."""

import pytest

from bench.http_cpu import median_round


def test_the_median_round_keeps_its_own_two_figures() -> None:
    # Round efficiencies (baseline / platform): 0.5, 0.8, 1.0; the slow machine of round 1
    # inflates both figures, which a ratio of medians (100 / 150) would mix across rounds.
    platform = [200.0, 100.0, 150.0]
    baseline = [100.0, 100.0, 120.0]
    assert median_round(platform, baseline) == (150.0, 120.0)


def test_a_drifting_machine_does_not_decide_the_result() -> None:
    # Every round the platform costs 10 % more than the baseline measured beside it, while the
    # machine's speed moves by 50 % from round to round.
    speeds = [1.0, 1.5, 0.8, 1.3, 1.1]
    platform = [110.0 * speed for speed in speeds]
    baseline = [100.0 * speed for speed in speeds]
    chosen_platform, chosen_baseline = median_round(platform, baseline)
    assert chosen_baseline / chosen_platform == pytest.approx(100 / 110)


def test_rounds_must_pair_up() -> None:
    with pytest.raises(ValueError, match="zip"):
        median_round([1.0, 2.0], [1.0])
