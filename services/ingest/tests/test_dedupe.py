"""Retried deliveries are processed once within the window, in bounded memory, and the
window's marks survive the trip through the ingest-seen topic."""

from triage_ingest.dedupe import RecentIds
from triage_ingest.seen_log import MARK_BYTES, NewestMarks, mark_records, read_marks


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


# --- the seen-mark records on social.ingest-seen ------------------------------------------------


def test_the_ids_seen_at_one_moment_travel_in_one_record_and_read_back() -> None:
    marks = [("x:1", 100.0), ("x:2", 100.0), ('ig:\u00e9"quoted"\u2603', 100.0), ("x:3", 101.5)]

    records = list(mark_records(marks))

    assert len(records) == 2
    assert [pair for value in records for pair in read_marks(b"any-key", value, fallback=0.0) or []] == marks


def test_a_mark_record_stays_under_its_size_in_bytes_and_no_id_is_left_out() -> None:
    # escapes make a control character six bytes and a non-ASCII one six or twelve
    marks = [(f"instagram:{n}:" + "\u0001\u00e9\U0001f600" * 160, 100.0) for n in range(200)]

    records = list(mark_records(marks))

    assert len(records) > 1 and all(len(value) <= MARK_BYTES + 64 for value in records)
    assert [pair for value in records for pair in read_marks(None, value, 0.0) or []] == marks


def test_an_id_that_is_not_valid_utf8_does_not_cost_its_neighbours_their_marks() -> None:
    marks = [("x:1", 5.0), ("x:\ud800", 5.0), ("x:2", 5.0)]

    [value] = mark_records(marks)

    assert read_marks(b"k", value, 0.0) == marks


def test_records_of_the_earlier_format_and_unreadable_ones() -> None:
    # one record per id: key the id, value when it was seen
    assert read_marks(b"x:9", b"1733390000.250", fallback=5.0) == [("x:9", 1733390000.25)]
    assert read_marks(b"x:9", b"not a time", fallback=5.0) == [("x:9", 5.0)]
    assert read_marks(b"k", b'{"at": 7, "ids": []}', 0.0) == []  # readable, empty
    # unreadable: counted and logged by the caller, never fatal
    for value in [
        b'{"at": "soon", "ids": ["x:1"]}',
        b'{"ids": ["x:1"]}',
        b"{broken",
        b'{"at": 7, "ids": "x:1"}',
        b'{"at": Infinity, "ids": ["x:1"]}',
        b'{"at": 7, "ids": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ]:
        assert read_marks(b"k", value, 0.0) is None, value[:40]
    assert read_marks(None, b"1733390000.250", 0.0) is None
    # an id that is not a string is skipped, its neighbours kept
    assert read_marks(b"k", b'{"at": 7, "ids": ["x:1", 42, null, "x:2"]}', 0.0) == [("x:1", 7.0), ("x:2", 7.0)]


def test_the_read_back_keeps_the_newest_ids_of_each_partition_within_the_bound() -> None:
    newest = NewestMarks(per_partition=2)
    newest.add(0, [("a:1", 1.0), ("a:2", 2.0)])
    newest.add(1, [("b:1", 10.0)])
    newest.add(0, [("a:3", 3.0)])  # a later record of partition 0: a:1 is the one forgotten

    assert newest.kept() == [("a:2", 2.0), ("a:3", 3.0), ("b:1", 10.0)]
