"""Retried deliveries are processed once within the window, in bounded memory."""

from triage_ingest.dedupe import RecentIds


def test_a_retry_within_the_window_is_a_duplicate_and_later_it_is_new_again() -> None:
    recent = RecentIds(window_seconds=86_400, max_entries=100)
    assert recent.first_time("messenger:m_1", now=0)
    assert not recent.first_time("messenger:m_1", now=3_600)
    assert recent.first_time("messenger:m_2", now=3_601)
    assert recent.first_time("messenger:m_1", now=86_401)


def test_memory_is_bounded_oldest_forgotten_first() -> None:
    recent = RecentIds(window_seconds=86_400, max_entries=3)
    for n in range(10):
        recent.first_time(f"id-{n}", now=n)
    assert len(recent) == 3
    assert not recent.first_time("id-9", now=11)
    assert recent.first_time("id-0", now=12)


def test_expired_ids_are_dropped_as_time_passes() -> None:
    recent = RecentIds(window_seconds=10, max_entries=1_000)
    for n in range(100):
        recent.first_time(f"id-{n}", now=n)
    assert len(recent) <= 11
