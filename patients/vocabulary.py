"""Controlled vocabularies shared by the clinical record and the programmes.

Precaution kinds are rows (administrators may add more); these are the codes the product ships
and refers to by name. Body regions are a fixed list so that "over the area" can be matched.
"""

from __future__ import annotations

from django.db import models


class BodyRegion(models.TextChoices):
    HEAD = "head", "Head"
    EYES = "eyes", "Eyes"
    CERVICAL = "cervical", "Cervical spine (neck)"
    ANTERIOR_NECK = "anterior_neck", "Anterior neck / carotid sinus"
    SHOULDER = "shoulder", "Shoulder"
    UPPER_ARM = "upper_arm", "Upper arm"
    ELBOW = "elbow", "Elbow"
    FOREARM_WRIST_HAND = "forearm_wrist_hand", "Forearm, wrist and hand"
    CHEST = "chest", "Chest"
    THORACIC = "thoracic", "Thoracic spine (upper back)"
    ABDOMEN = "abdomen", "Abdomen"
    LUMBAR = "lumbar", "Lumbar spine (lower back)"
    PELVIS_SACRUM = "pelvis_sacrum", "Pelvis and sacrum"
    HIP = "hip", "Hip"
    THIGH = "thigh", "Thigh"
    KNEE = "knee", "Knee"
    LOWER_LEG = "lower_leg", "Lower leg"
    ANKLE_FOOT = "ankle_foot", "Ankle and foot"
    WHOLE_BODY = "whole_body", "Whole body"


class Side(models.TextChoices):
    LEFT = "left", "Left"
    RIGHT = "right", "Right"
    BILATERAL = "bilateral", "Bilateral"
    NOT_APPLICABLE = "", "Not applicable"


# The precaution kinds the product ships (codes are stable; labels may be edited).
# (code, label, needs a body region)
SHIPPED_PRECAUTION_KINDS: list[tuple[str, str, bool]] = [
    ("pacemaker", "Pacemaker or implanted defibrillator", False),
    ("active_implant", "Other active implant", False),
    ("pregnancy", "Pregnancy", False),
    ("impaired_sensation", "Impaired sensation", True),
    ("malignancy", "Malignancy", True),
    ("dvt", "Deep vein thrombosis", False),
    ("peripheral_vascular_disease", "Peripheral vascular disease", False),
    ("open_wound", "Open wound or dermatitis", True),
    ("epilepsy", "Epilepsy", False),
    ("acute_injury", "Acute injury or swelling (under 72 hours)", True),
    ("lumbar_disc_herniation", "Lumbar disc herniation", False),
    ("lumbar_spinal_stenosis", "Lumbar spinal stenosis", False),
    ("facet_arthropathy", "Facet arthropathy", False),
    ("osteoporosis", "Osteoporosis", False),
]

# Flags that come from the record rather than a precaution row: the contraindication check
# treats them like precaution codes.
ACUTE_BACK_PAIN = "acute_back_pain"

# ICD-10-CM code prefixes that imply a precaution code for the contraindication check.
DIAGNOSIS_FLAGS: list[tuple[str, str]] = [
    ("M51.1", "lumbar_disc_herniation"),  # disc disorders with radiculopathy (M51.16, M51.17)
    ("M51.2", "lumbar_disc_herniation"),  # other disc displacement (M51.26, M51.27)
    ("M48.06", "lumbar_spinal_stenosis"),
    ("M47.81", "facet_arthropathy"),  # spondylosis without myelopathy (facet arthropathy)
    ("M81", "osteoporosis"),
    ("M80", "osteoporosis"),
    ("I82.4", "dvt"),
    ("I73.9", "peripheral_vascular_disease"),
    ("G40", "epilepsy"),
    ("Z95.0", "pacemaker"),
    ("Z33", "pregnancy"),
]

# Back-pain diagnoses: with an onset under 3 months they raise the ACUTE_BACK_PAIN flag.
BACK_PAIN_PREFIXES = ("M54.5", "M54.4", "M54.1", "M51", "M48.06", "M47.8", "M53.3", "S33")
