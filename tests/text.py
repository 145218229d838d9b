"""Checks on text that tests share."""

from __future__ import annotations

import re


def mentions(text: str, name: str) -> bool:
    """Whether `name` stands in `text` as a word of its own. A test that a patient's name is
    kept out of a page, a file name or a log must not fail because a short generated name
    ("Ho", "Li") is part of another word ("Home", "Clinic")."""
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) is not None
