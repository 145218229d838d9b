"""Small pure rules about patients, tested with tables."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

from patients.vocabulary import ACUTE_BACK_PAIN, BACK_PAIN_PREFIXES, DIAGNOSIS_FLAGS

ACUTE_FOR = relativedelta(months=3)


def is_acute(onset: dt.date, on: dt.date) -> bool:
    """A condition is acute until three calendar months after its onset, chronic from then on."""
    return on < onset + ACUTE_FOR


def phone_digits(phone: str) -> str:
    return re.sub(r"\D", "", phone or "")


def search_name(first_name: str, last_name: str) -> str:
    """The lower-case name a search matches against: 'last first'."""
    return f"{last_name} {first_name}".strip().lower()


@dataclass(frozen=True)
class PatientFlag:
    """A fact about a patient that the contraindication check matches rules against.

    `code` is a precaution kind's code (pacemaker, malignancy, ...) or a derived flag such as
    `acute_back_pain`; `region` is a BodyRegion value where the fact applies over an area.
    """

    code: str
    label: str
    region: str = ""


def diagnosis_flags(
    *, icd10_code: str, description: str, onset: dt.date | None, on: dt.date
) -> list[PatientFlag]:
    """The flags one diagnosis raises: a coded condition, and acute back pain by onset."""
    flags = [
        PatientFlag(code=code, label=f"{description} ({icd10_code})")
        for prefix, code in DIAGNOSIS_FLAGS
        if icd10_code.startswith(prefix)
    ]
    if onset is not None and icd10_code.startswith(BACK_PAIN_PREFIXES) and is_acute(onset, on):
        flags.append(
            PatientFlag(
                code=ACUTE_BACK_PAIN,
                label=f"acute back pain: {description} ({icd10_code}), onset {onset:%Y-%m-%d}",
                region="lumbar",
            )
        )
    return flags
