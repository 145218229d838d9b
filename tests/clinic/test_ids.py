"""Time-ordered public ids (clinic/ids.py): the layout of RFC 9562's version 7, and their order."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from clinic.ids import RANDOM_BITS, time_ordered_uuid, uuid7_from


def test_the_rfc_example_comes_out_bit_for_bit():
    # RFC 9562, appendix A.6: 2022-02-22 19:22:22 UTC, rand_a 0xCC3, rand_b 0x18C4DC0C0C07398F.
    moment = dt.datetime(2022, 2, 22, 19, 22, 22, tzinfo=dt.UTC)
    random_bits = (0xCC3 << 62) | 0x18C4DC0C0C07398F

    assert uuid7_from(moment, random_bits) == uuid.UUID("017f22e2-79b0-7cc3-98c4-dc0c0c07398f")


def test_a_new_id_is_version_7_and_carries_the_time_it_was_made():
    before = dt.datetime.now(dt.UTC)
    made = time_ordered_uuid()
    after = dt.datetime.now(dt.UTC)

    assert made.version == 7
    assert made.variant == uuid.RFC_4122
    ms = made.int >> 80
    assert int(before.timestamp() * 1000) <= ms <= int(after.timestamp() * 1000)


def test_ids_sort_by_the_millisecond_they_were_made_whatever_their_random_bits():
    start = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
    highest, lowest = (1 << RANDOM_BITS) - 1, 0
    earlier = uuid7_from(start, highest)
    later = uuid7_from(start + dt.timedelta(milliseconds=1), lowest)

    assert earlier < later
    assert str(earlier) < str(later)  # the text (and PostgreSQL's byte order) agree


def test_two_ids_of_one_millisecond_differ():
    assert len({time_ordered_uuid() for _ in range(1000)}) == 1000


def test_a_time_before_1970_is_refused():
    # (datetime ends at year 9999, before the 48 bits of milliseconds do, in 10889.)
    with pytest.raises(ValueError, match="moment: 1969-12-31T23:59:00\\+00:00 is outside"):
        uuid7_from(dt.datetime(1969, 12, 31, 23, 59, tzinfo=dt.UTC), 0)
