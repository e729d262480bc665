"""The official training schedules and their proportional scaling."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tha4_sdk.distill.schedule import (BODY_SCHEDULE, FACE_SCHEDULE, OFFICIAL_EXAMPLES, Schedule, ScheduleError,
                                      split_budget)


def test_body_schedule_is_the_official_six_steps() -> None:
    expected = [(200_000, 1e-4, (0.25, 0.25, 0.5, 2.0)), (400_000, 3e-5, (0.25, 0.25, 0.5, 2.0)),
                (600_000, 3e-5, (1.0, 2.5, 5.0, 1.0)), (800_000, 1e-5, (1.0, 2.5, 5.0, 1.0)),
                (1_300_000, 1e-5, (10.0, 1.0, 1.0, 1.0)), (1_500_000, 3e-6, (10.0, 1.0, 1.0, 1.0))]
    assert [(p.end, p.lr, p.weights) for p in BODY_SCHEDULE.phases] == expected
    assert BODY_SCHEDULE.at(0).lr == 1e-4
    assert BODY_SCHEDULE.at(199_992).lr == 1e-4
    assert BODY_SCHEDULE.at(200_000).lr == 3e-5
    assert BODY_SCHEDULE.at(599_999).weights == (1.0, 2.5, 5.0, 1.0)
    assert BODY_SCHEDULE.at(1_300_000).lr == 3e-6
    assert BODY_SCHEDULE.at(10**9).lr == 3e-6  # past the end: the last phase


def test_face_schedule_is_the_official_step_decay() -> None:
    assert FACE_SCHEDULE.total == 1_000_000
    assert [FACE_SCHEDULE.at(n).lr for n in (0, 200_000, 500_000, 800_000)] == pytest.approx(
        [1e-4, 1e-4 / 3, 1e-5, 1e-4 / 30])
    assert all(p.weights == (1.0, 20.0) for p in FACE_SCHEDULE.phases)


def test_scaling_keeps_proportions() -> None:
    small = BODY_SCHEDULE.scaled(15_000)
    assert [p.end for p in small.phases] == [2_000, 4_000, 6_000, 8_000, 13_000, 15_000]
    assert [p.lr for p in small.phases] == [p.lr for p in BODY_SCHEDULE.phases]
    assert small.at(7_999).weights == (1.0, 2.5, 5.0, 1.0)
    assert [p.end for p in FACE_SCHEDULE.scaled(1000).phases] == [200, 500, 800, 1000]


@pytest.mark.parametrize("total", [1, 4, 7, 999, 12_345])
def test_scaled_example_trains_as_the_proportional_official_example(total: int) -> None:
    for schedule in (BODY_SCHEDULE, FACE_SCHEDULE):
        scaled = schedule.scaled(total)
        assert scaled.total == total
        for e in range(0, total, max(1, total // 97)):
            official = schedule.at(Fraction(e * schedule.total, total))  # type: ignore[arg-type]
            assert (scaled.at(e).lr, scaled.at(e).weights) == (official.lr, official.weights)


def test_tiny_budget_keeps_only_phases_holding_examples() -> None:
    assert [(p.end, p.lr) for p in BODY_SCHEDULE.scaled(1).phases] == [(1, 1e-4)]
    assert [p.end for p in BODY_SCHEDULE.scaled(4).phases] == [1, 2, 3, 4]


def test_budget_split_follows_the_official_ratio() -> None:
    assert OFFICIAL_EXAMPLES == 2_500_000
    assert split_budget(2_500_000) == (1_000_000, 1_500_000)
    assert split_budget(10) == (4, 6)
    assert split_budget(2) == (1, 1)
    with pytest.raises(ScheduleError, match=r"^examples must be at least 2 \(one per network\), got 1$"):
        split_budget(1)


def test_bad_schedules_are_rejected() -> None:
    with pytest.raises(ScheduleError, match="phase ends must be positive and increasing"):
        Schedule(())
    with pytest.raises(ScheduleError, match="at least 1 example, got 0"):
        FACE_SCHEDULE.scaled(0)
