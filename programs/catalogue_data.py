"""The modality catalogue and exercise library the product ships (CLINICAL.md sections 2, 5, 6).

Plain data, no Django models: the data migrations `ship_modality_catalogue` and
`ship_exercise_library` write it with update_or_create by natural key (a modality's name, an
exercise's slug, a rule's item and condition), and the tests check it against CLINICAL.md.
Administrators may edit the rows afterwards; a later data migration that ships a change imports
this module again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from patients.vocabulary import ACUTE_BACK_PAIN
from patients.vocabulary import BodyRegion as R

# --- Billing codes (CLINICAL.md section 2) ------------------------------------------------------


@dataclass(frozen=True)
class CptCode:
    code: str
    service: str
    timed: bool
    medicare_code: str = ""
    medicare_bundled: bool = False


# CPT codes of the back-pain pathway, PT discipline (modifier GP). `timed` decides whether the
# minutes count towards timed units (8-minute rule) or the code bills one unit per encounter.
CPT_CODES: dict[str, CptCode] = {
    c.code: c
    for c in [
        CptCode("97161", "PT evaluation, low complexity", timed=False),
        CptCode("97162", "PT evaluation, moderate complexity", timed=False),
        CptCode("97163", "PT evaluation, high complexity", timed=False),
        CptCode("97164", "PT re-evaluation", timed=False),
        CptCode("97010", "Hot or cold packs", timed=False, medicare_bundled=True),
        CptCode("97012", "Mechanical traction", timed=False),
        CptCode("97014", "Electrical stimulation, unattended", timed=False, medicare_code="G0283"),
        CptCode("97032", "Electrical stimulation, attended", timed=True),
        CptCode("97035", "Ultrasound", timed=True),
        CptCode("97110", "Therapeutic exercise", timed=True),
        CptCode("97112", "Neuromuscular re-education", timed=True),
        CptCode("97113", "Aquatic therapy with exercise", timed=True),
        CptCode("97116", "Gait training", timed=True),
        CptCode("97140", "Manual therapy", timed=True),
        CptCode("97530", "Therapeutic activities", timed=True),
        CptCode("97535", "Self-care / home management training", timed=True),
    ]
}


# --- Contraindication rules --------------------------------------------------------------------


@dataclass(frozen=True)
class RuleData:
    condition: str  # a PrecautionKind code, ACUTE_BACK_PAIN, or "" for a placement rule
    severity: str  # "refuse" | "warn"
    reason: str
    region_scope: str = "any"  # "any" | "over_area" | "regions"
    regions: tuple[str, ...] = ()


def refuse(condition: str, reason: str, **scope: Any) -> RuleData:
    return RuleData(condition, "refuse", reason, **scope)


def warn(condition: str, reason: str, **scope: Any) -> RuleData:
    return RuleData(condition, "warn", reason, **scope)


OVER_AREA: dict[str, Any] = {"region_scope": "over_area"}


def over(*regions: str) -> dict[str, Any]:
    return {"region_scope": "regions", "regions": tuple(regions)}


HEAT_RULES = (
    refuse(
        "acute_injury",
        "Acute injury or swelling under 72 hours over the area: heat increases bleeding and "
        "swelling.",
        **OVER_AREA,
    ),
    refuse(
        "impaired_sensation",
        "Impaired sensation over the area: the patient cannot report a burn.",
        **OVER_AREA,
    ),
    refuse("dvt", "Deep vein thrombosis: heat may dislodge the thrombus."),
    refuse(
        "peripheral_vascular_disease",
        "Peripheral vascular disease: the circulation cannot carry the heat away, so the skin "
        "may burn.",
    ),
    refuse(
        "open_wound",
        "Open wound or dermatitis over the area: heat and pack contact damage the skin.",
        **OVER_AREA,
    ),
    refuse(
        "malignancy",
        "Malignancy over the area: heat increases local blood flow and may speed tumour growth.",
        **OVER_AREA,
    ),
)

COLD_RULES = (
    refuse(
        "impaired_sensation",
        "Impaired sensation over the area: the patient cannot report a cold injury.",
        **OVER_AREA,
    ),
    refuse(
        "peripheral_vascular_disease",
        "Peripheral vascular disease: cold constricts vessels that already carry too little blood.",
    ),
    warn(
        "open_wound",
        "Open wound or dermatitis over the area: cold slows healing; cover the wound or avoid the "
        "area.",
        **OVER_AREA,
    ),
)

ESTIM_RULES = (
    refuse(
        "pacemaker",
        "Pacemaker or implanted defibrillator: electrical stimulation may interfere with the "
        "device.",
    ),
    refuse(
        "active_implant",
        "Active implant (stimulator, pump): electrical stimulation may interfere with the device.",
    ),
    refuse(
        "pregnancy",
        "Pregnancy: no electrical stimulation over the abdomen, lumbar region or pelvis.",
        **over(R.ABDOMEN, R.LUMBAR, R.PELVIS_SACRUM),
    ),
    refuse(
        "",
        "electrodes over the carotid sinus or anterior neck may cause a drop in blood pressure "
        "or laryngeal spasm.",
        **over(R.ANTERIOR_NECK),
    ),
    refuse(
        "open_wound",
        "Open wound (broken skin) under the electrodes: current concentrates and burns.",
        **OVER_AREA,
    ),
    refuse("epilepsy", "Epilepsy: electrical stimulation may provoke a seizure."),
    refuse(
        "malignancy",
        "Malignancy over the area: stimulation increases local blood flow around the tumour.",
        **OVER_AREA,
    ),
    warn(
        "impaired_sensation",
        "Impaired sensation over the area: the patient cannot judge the intensity; set it by "
        "visible response and check the skin.",
        **OVER_AREA,
    ),
)

ULTRASOUND_RULES = (
    refuse(
        "malignancy",
        "Malignancy over the area: ultrasound may speed tumour growth or spread.",
        **OVER_AREA,
    ),
    refuse(
        "pregnancy",
        "Pregnancy: no ultrasound over a pregnant uterus (abdomen, pelvis, lumbar region).",
        **over(R.ABDOMEN, R.PELVIS_SACRUM, R.LUMBAR),
    ),
    refuse(
        "",
        "therapeutic ultrasound over the eyes may damage the retina and lens.",
        **over(R.EYES),
    ),
    warn(
        "impaired_sensation",
        "Impaired sensation over the area: the patient cannot report periosteal pain or heat; "
        "use pulsed, low intensity.",
        **OVER_AREA,
    ),
    warn(
        "acute_injury",
        "Acute injury or swelling over the area: use pulsed (non-thermal) ultrasound only.",
        **OVER_AREA,
    ),
)

TRACTION_RULES = (
    refuse("pregnancy", "Pregnancy: mechanical lumbar traction loads the abdomen and pelvis."),
    refuse("osteoporosis", "Osteoporosis: traction forces may fracture weakened vertebrae."),
    refuse(
        "malignancy",
        "Malignancy over the area: traction may fracture a vertebra weakened by the tumour.",
        **OVER_AREA,
    ),
)

MANUAL_RULES = (
    refuse(
        "malignancy",
        "Malignancy over the area: no mobilisation, manipulation or massage over the tumour.",
        **OVER_AREA,
    ),
    warn(
        "osteoporosis",
        "Osteoporosis: no high-velocity manipulation; grade mobilisation gently.",
    ),
    warn("dvt", "Deep vein thrombosis: no massage of the affected limb (embolism)."),
)

AQUATIC_RULES = (
    refuse(
        "open_wound",
        "Open wound or dermatitis: no pool work until it is healed or sealed (infection).",
    ),
    warn("epilepsy", "Epilepsy: pool work only with a therapist in the water beside the patient."),
)


# --- Modalities (CLINICAL.md sections 2 and 5) ----------------------------------------------------


def minutes(low: int = 1, high: int = 60) -> dict[str, Any]:
    return {
        "name": "minutes",
        "label": "Minutes",
        "unit": "min",
        "kind": "integer",
        "min": low,
        "max": high,
        "required": True,
    }


def number(
    name: str, label: str, unit: str, low: float, high: float, *, required: bool = True
) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "unit": unit,
        "kind": "number",
        "min": low,
        "max": high,
        "required": required,
    }


def integer(
    name: str, label: str, unit: str, low: int, high: int, *, required: bool = True
) -> dict[str, Any]:
    return {**number(name, label, unit, low, high, required=required), "kind": "integer"}


def choice(
    name: str, label: str, choices: list[Any], *, unit: str = "", required: bool = True
) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "unit": unit,
        "kind": "choice",
        "choices": choices,
        "required": required,
    }


def text(name: str, label: str, *, required: bool = True) -> dict[str, Any]:
    return {"name": name, "label": label, "unit": "", "kind": "text", "required": required}


ELECTRODE_PLACEMENT = text("electrode_placement", "Electrode placement")
INTENSITY_MA = number("intensity_ma", "Intensity", "mA", 0, 100)
FREQUENCY_HZ = number("frequency_hz", "Frequency", "Hz", 1, 250)
PULSE_WIDTH_US = integer("pulse_width_us", "Pulse width", "µs", 20, 400)
TENS_SPEC = [
    choice("mode", "Mode", ["conventional", "acupuncture_like", "burst", "modulated"]),
    FREQUENCY_HZ,
    PULSE_WIDTH_US,
    INTENSITY_MA,
    minutes(1, 60),
    ELECTRODE_PLACEMENT,
]
INTERFERENTIAL_SPEC = [
    choice("carrier_frequency_hz", "Carrier frequency", [2500, 4000, 5000], unit="Hz"),
    number("beat_frequency_hz", "Beat (treatment) frequency", "Hz", 1, 250),
    number("sweep_hz", "Frequency sweep", "Hz", 0, 150, required=False),
    INTENSITY_MA,
    minutes(1, 60),
    ELECTRODE_PLACEMENT,
]
NMES_SPEC = [
    FREQUENCY_HZ,
    PULSE_WIDTH_US,
    INTENSITY_MA,
    integer("on_seconds", "Contraction (on) time", "s", 1, 60),
    integer("off_seconds", "Rest (off) time", "s", 1, 120),
    number("ramp_seconds", "Ramp", "s", 0, 10, required=False),
    minutes(1, 60),
    ELECTRODE_PLACEMENT,
]
TOWEL_LAYERS = integer("towel_layers", "Towel layers", "layers", 1, 12)


@dataclass(frozen=True)
class ModalityData:
    name: str
    kind: str
    cpt_code: str
    typical_minutes: int
    parameter_spec: list[dict[str, Any]]
    description: str = ""
    rules: tuple[RuleData, ...] = ()

    @property
    def code(self) -> CptCode:
        return CPT_CODES[self.cpt_code]


def _estim(name: str, attended: bool, spec: list[dict[str, Any]], description: str) -> ModalityData:
    return ModalityData(
        name=f"{name} ({'attended' if attended else 'unattended'})",
        kind="electrotherapy_attended" if attended else "electrotherapy_unattended",
        cpt_code="97032" if attended else "97014",
        typical_minutes=15 if attended else 20,
        parameter_spec=spec,
        description=description
        + (
            " Attended: the therapist is with the patient throughout (timed, 97032)."
            if attended
            else " Unattended: applied and checked, not continuously supervised (97014; "
            "Medicare G0283)."
        ),
        rules=ESTIM_RULES,
    )


TENS_TEXT = (
    "Transcutaneous electrical nerve stimulation for pain. Conventional 80-150 Hz at "
    "50-250 µs; acupuncture-like 1-5 Hz at 200-250 µs; sessions 15-30 minutes."
)
IFC_TEXT = (
    "Interferential current for pain: two medium-frequency currents crossing to give a beat "
    "frequency in the tissue. Sessions 15-30 minutes."
)
NMES_TEXT = (
    "Neuromuscular electrical stimulation to recruit muscle (for example the multifidus): "
    "30-50 Hz at about 250 µs, with on/off cycles. Sessions 15-30 minutes."
)

MODALITIES: list[ModalityData] = [
    ModalityData(
        "PT evaluation, low complexity",
        "evaluation",
        "97161",
        20,
        [minutes(1, 120)],
        "Initial evaluation of low complexity (about 20 minutes). Billed once per evaluation.",
    ),
    ModalityData(
        "PT evaluation, moderate complexity",
        "evaluation",
        "97162",
        30,
        [minutes(1, 120)],
        "Initial evaluation of moderate complexity (about 30 minutes).",
    ),
    ModalityData(
        "PT evaluation, high complexity",
        "evaluation",
        "97163",
        45,
        [minutes(1, 120)],
        "Initial evaluation of high complexity (about 45 minutes).",
    ),
    ModalityData(
        "PT re-evaluation",
        "re_evaluation",
        "97164",
        20,
        [minutes(1, 120)],
        "Re-evaluation of an established plan of care.",
    ),
    ModalityData(
        "Hot pack",
        "heat",
        "97010",
        15,
        [minutes(1, 30), TOWEL_LAYERS],
        "Superficial moist heat, 15-20 minutes, wrapped in towel layers; check the skin every "
        "5 minutes. Medicare bundles 97010: it is recorded but not paid separately.",
        HEAT_RULES,
    ),
    ModalityData(
        "Cold pack",
        "cold",
        "97010",
        15,
        [minutes(1, 20), integer("towel_layers", "Towel layers", "layers", 1, 4)],
        "Cold pack 10-15 minutes over a damp towel; check the skin every 5 minutes. Medicare "
        "bundles 97010: it is recorded but not paid separately.",
        COLD_RULES,
    ),
    ModalityData(
        "Mechanical lumbar traction",
        "traction",
        "97012",
        15,
        [
            choice("mode", "Mode", ["static", "intermittent"]),
            number("force_lb", "Force", "lb", 5, 200),
            integer("hold_seconds", "Hold", "s", 1, 120, required=False),
            integer("rest_seconds", "Rest", "s", 1, 120, required=False),
            choice("position", "Position", ["supine", "prone"], required=False),
            minutes(1, 30),
        ],
        "Mechanical traction; start with a force of about a quarter to half of body weight.",
        TRACTION_RULES,
    ),
    _estim("TENS", False, TENS_SPEC, TENS_TEXT),
    _estim("TENS", True, TENS_SPEC, TENS_TEXT),
    _estim("Interferential current", False, INTERFERENTIAL_SPEC, IFC_TEXT),
    _estim("Interferential current", True, INTERFERENTIAL_SPEC, IFC_TEXT),
    _estim("NMES", True, NMES_SPEC, NMES_TEXT),
    ModalityData(
        "Therapeutic ultrasound",
        "ultrasound",
        "97035",
        8,
        [
            choice("frequency_mhz", "Frequency", [1, 3], unit="MHz"),
            number("intensity_w_cm2", "Intensity", "W/cm²", 0.1, 3.0),
            choice("duty_cycle_percent", "Duty cycle", [20, 50, 100], unit="%"),
            minutes(1, 15),
        ],
        "1 MHz for deep tissue (lumbar), 3 MHz for superficial; continuous (100 %) heats, "
        "pulsed does not. Keep the sound head moving.",
        ULTRASOUND_RULES,
    ),
    ModalityData(
        "Therapeutic exercise",
        "therapeutic_exercise",
        "97110",
        15,
        [minutes(1, 60)],
        "Exercise for strength, endurance, range of motion and flexibility; the exercises "
        "themselves come from the exercise library.",
    ),
    ModalityData(
        "Neuromuscular re-education",
        "neuromuscular_reeducation",
        "97112",
        15,
        [minutes(1, 60)],
        "Stabilisation, balance, coordination, posture and proprioception training.",
    ),
    ModalityData(
        "Aquatic therapy with exercise",
        "aquatic",
        "97113",
        30,
        [minutes(1, 60)],
        "Exercise in the pool: buoyancy unloads the spine.",
        AQUATIC_RULES,
    ),
    ModalityData(
        "Gait training",
        "gait",
        "97116",
        15,
        [
            choice(
                "assistive_device",
                "Assistive device",
                ["none", "cane", "crutches", "walker", "other"],
                required=False,
            ),
            integer("distance_ft", "Distance", "ft", 1, 10000, required=False),
            minutes(1, 60),
        ],
        "Training of walking, including stairs.",
    ),
    ModalityData(
        "Manual therapy",
        "manual_therapy",
        "97140",
        15,
        [
            choice(
                "technique",
                "Technique",
                [
                    "soft_tissue_mobilisation",
                    "joint_mobilisation",
                    "manipulation",
                    "myofascial_release",
                    "manual_traction",
                ],
            ),
            minutes(1, 60),
        ],
        "Mobilisation, manipulation, soft-tissue techniques and manual traction.",
        MANUAL_RULES,
    ),
    ModalityData(
        "Therapeutic activities",
        "therapeutic_activities",
        "97530",
        15,
        [text("activity", "Activity", required=False), minutes(1, 60)],
        "Dynamic functional activities: lifting, carrying, bending, transfers.",
    ),
    ModalityData(
        "Home programme teaching",
        "home_programme_teaching",
        "97535",
        10,
        [minutes(1, 60)],
        "Self-care and home management training: teaching the home exercise programme, "
        "posture and body mechanics.",
    ),
]


# --- Exercises (CLINICAL.md section 6) ------------------------------------------------------------


CATEGORY_RULES: dict[str, tuple[RuleData, ...]] = {
    "flexion_loading": (
        refuse(
            "lumbar_disc_herniation",
            "Lumbar disc herniation: loaded spinal flexion pushes the disc material further "
            "out and may worsen the herniation.",
        ),
        warn(
            "osteoporosis",
            "Osteoporosis: loaded spinal flexion raises the risk of a vertebral compression "
            "fracture.",
        ),
    ),
    "mckenzie_extension": (
        refuse(
            "lumbar_spinal_stenosis",
            "Lumbar spinal stenosis: extension narrows the spinal canal; stenosis is eased by "
            "flexion.",
        ),
        refuse(
            "facet_arthropathy",
            "Facet arthropathy: extension compresses the facet joints; it is eased by flexion.",
        ),
    ),
    "high_impact_aerobic": (
        refuse(
            ACUTE_BACK_PAIN,
            "Acute back pain (under 3 months): no running or jumping while the pain is acute; "
            "choose walking, cycling, swimming or the elliptical.",
        ),
        warn("osteoporosis", "Osteoporosis: impact loading carries a fracture risk."),
    ),
    "aquatic": (
        refuse(
            "open_wound",
            "Open wound or dermatitis: no pool work until it is healed or sealed (infection).",
        ),
    ),
}


@dataclass(frozen=True)
class ExerciseData:
    slug: str
    name: str
    category: str
    body_region: str
    instructions: str
    sets: int | None = None
    reps: int | None = None
    hold_seconds: int | None = None
    minutes: int | None = None
    times_per_day: int | None = None
    days_per_week: int | None = None
    extra_rules: tuple[RuleData, ...] = field(default=())

    @property
    def rules(self) -> tuple[RuleData, ...]:
        return CATEGORY_RULES.get(self.category, ()) + self.extra_rules


NERVE_WARNING = (
    "Stop and tell your therapist if pain spreading into the leg, numbness or tingling increases."
)
LOW_IMPACT_DOSE: dict[str, Any] = {"minutes": 30, "days_per_week": 3}

EXERCISES: list[ExerciseData] = [
    # Stretches
    ExerciseData(
        "hamstring-stretch",
        "Hamstring stretch",
        "stretch",
        R.THIGH,
        "Lie on your back, loop a towel around one foot and raise the straight leg until you "
        "feel a gentle stretch behind the thigh. Hold 15 to 60 seconds, 2 to 3 times per leg. "
        + NERVE_WARNING,
        reps=3,
        hold_seconds=30,
        times_per_day=1,
        days_per_week=7,
    ),
    ExerciseData(
        "piriformis-stretch",
        "Piriformis stretch",
        "stretch",
        R.HIP,
        "Lie on your back, cross one ankle over the other knee and pull the lower thigh towards "
        "your chest until you feel the stretch in the buttock. Hold 30 seconds, 3 times each "
        "side. " + NERVE_WARNING,
        reps=3,
        hold_seconds=30,
        times_per_day=1,
        days_per_week=7,
    ),
    ExerciseData(
        "hip-flexor-stretch",
        "Hip flexor stretch (half kneeling)",
        "stretch",
        R.HIP,
        "Kneel on one knee with the other foot in front. Tighten your stomach, tuck the pelvis "
        "under and shift forward until the front of the back hip stretches. Keep the back "
        "straight. Hold 30 seconds, 3 times each side.",
        reps=3,
        hold_seconds=30,
        times_per_day=1,
        days_per_week=7,
    ),
    ExerciseData(
        "cat-camel",
        "Cat-camel",
        "stretch",
        R.LUMBAR,
        "On hands and knees, slowly round your back up towards the ceiling, then let it sag "
        "gently down, within a comfortable range. Move smoothly, 10 times.",
        sets=1,
        reps=10,
        times_per_day=2,
        days_per_week=7,
    ),
    ExerciseData(
        "calf-stretch",
        "Calf stretch (wall)",
        "stretch",
        R.LOWER_LEG,
        "Stand facing a wall, one foot back with the heel down and the knee straight; lean "
        "forward until the calf stretches. Hold 30 seconds, 3 times each leg.",
        reps=3,
        hold_seconds=30,
        times_per_day=1,
        days_per_week=7,
    ),
    ExerciseData(
        "quadriceps-stretch",
        "Quadriceps stretch (standing)",
        "stretch",
        R.THIGH,
        "Hold on to a chair, bend one knee and hold the ankle behind you, knees together, "
        "without arching the back. Hold 30 seconds, 3 times each leg.",
        reps=3,
        hold_seconds=30,
        times_per_day=1,
        days_per_week=7,
    ),
    ExerciseData(
        "upper-trapezius-stretch",
        "Upper trapezius stretch",
        "stretch",
        R.CERVICAL,
        "Sit tall, hold the seat with one hand and tilt your ear towards the other shoulder "
        "until the side of the neck stretches. Hold 30 seconds, 3 times each side.",
        reps=3,
        hold_seconds=30,
        times_per_day=2,
        days_per_week=7,
    ),
    ExerciseData(
        "doorway-pectoral-stretch",
        "Doorway chest stretch",
        "stretch",
        R.CHEST,
        "Stand in a doorway with forearms on the frame at shoulder height and step forward "
        "until the chest stretches. Hold 30 seconds, 3 times.",
        reps=3,
        hold_seconds=30,
        times_per_day=1,
        days_per_week=7,
    ),
    # McKenzie extension
    ExerciseData(
        "prone-lying",
        "Prone lying",
        "mckenzie_extension",
        R.LUMBAR,
        "Lie face down with your arms by your sides and your head turned to one side. Breathe "
        "deeply and let your lower back relax for 2 to 3 minutes. " + NERVE_WARNING,
        reps=1,
        hold_seconds=120,
        times_per_day=3,
        days_per_week=7,
    ),
    ExerciseData(
        "prone-on-elbows",
        "Prone on elbows",
        "mckenzie_extension",
        R.LUMBAR,
        "Lie face down and prop yourself up on your elbows, hips on the floor, letting the lower "
        "back sag. Hold 5 to 30 seconds, building up as it becomes comfortable. " + NERVE_WARNING,
        reps=5,
        hold_seconds=30,
        times_per_day=3,
        days_per_week=7,
    ),
    ExerciseData(
        "mckenzie-prone-press-up",
        "McKenzie prone press-up",
        "mckenzie_extension",
        R.LUMBAR,
        "Lie face down with your hands under your shoulders. Straighten your arms to push your "
        "upper body up while your hips stay on the floor and your back relaxes. Hold 1 to 2 "
        "seconds at the top, lower slowly; 10 repetitions. " + NERVE_WARNING,
        sets=1,
        reps=10,
        hold_seconds=2,
        times_per_day=3,
        days_per_week=7,
    ),
    ExerciseData(
        "standing-back-extension",
        "Standing back extension",
        "mckenzie_extension",
        R.LUMBAR,
        "Stand with your feet apart and your hands in the small of your back. Lean backwards as "
        "far as is comfortable, hold 1 to 2 seconds and return; 10 repetitions. " + NERVE_WARNING,
        sets=1,
        reps=10,
        hold_seconds=2,
        times_per_day=3,
        days_per_week=7,
    ),
    # Flexion-loading
    ExerciseData(
        "sit-up",
        "Sit-up",
        "flexion_loading",
        R.LUMBAR,
        "Lie on your back with the knees bent, arms across your chest, and curl all the way up "
        "to sitting; lower slowly.",
        sets=2,
        reps=10,
        days_per_week=3,
    ),
    ExerciseData(
        "crunch",
        "Crunch",
        "flexion_loading",
        R.LUMBAR,
        "Lie on your back with the knees bent and curl your head and shoulders off the floor; "
        "lower slowly.",
        sets=2,
        reps=10,
        days_per_week=3,
    ),
    ExerciseData(
        "toe-touch",
        "Standing toe touch",
        "flexion_loading",
        R.LUMBAR,
        "Stand with your knees straight and bend forward to reach towards your toes; return "
        "slowly to standing.",
        sets=1,
        reps=10,
        days_per_week=3,
    ),
    ExerciseData(
        "knees-to-chest",
        "Knees to chest",
        "flexion_loading",
        R.LUMBAR,
        "Lie on your back and pull both knees towards your chest with your hands. Hold 20 "
        "seconds, 3 times.",
        reps=3,
        hold_seconds=20,
        times_per_day=1,
        days_per_week=7,
    ),
    ExerciseData(
        "trunk-twist",
        "Trunk twist",
        "flexion_loading",
        R.LUMBAR,
        "Sit or stand tall and rotate your upper body to one side, then the other, under "
        "control; 10 times each side.",
        sets=1,
        reps=10,
        days_per_week=3,
    ),
    # Low-impact aerobic
    ExerciseData(
        "walking",
        "Walking",
        "low_impact_aerobic",
        R.WHOLE_BODY,
        "Walk at a pace that makes you breathe faster but still lets you talk, on level ground, "
        "for 30 minutes, 3 to 4 times a week. Start shorter if you need to and build up.",
        **LOW_IMPACT_DOSE,
    ),
    ExerciseData(
        "treadmill-walking",
        "Treadmill walking",
        "low_impact_aerobic",
        R.WHOLE_BODY,
        "Walk on a treadmill with no incline, upright, without holding the rails if you can; "
        "30 minutes, 3 to 4 times a week.",
        **LOW_IMPACT_DOSE,
    ),
    ExerciseData(
        "stationary-cycling",
        "Cycling (stationary bike)",
        "low_impact_aerobic",
        R.WHOLE_BODY,
        "Cycle at an easy to moderate resistance, seat high enough that the knee is almost "
        "straight at the bottom; sit upright. 30 minutes, 3 to 4 times a week.",
        **LOW_IMPACT_DOSE,
    ),
    ExerciseData(
        "swimming",
        "Swimming",
        "low_impact_aerobic",
        R.WHOLE_BODY,
        "Swim at an easy, steady pace; backstroke or front crawl are kinder to the back than "
        "breaststroke with the head held up. 30 minutes, 3 to 4 times a week.",
        extra_rules=(
            refuse(
                "open_wound",
                "Open wound or dermatitis: no pool work until it is healed or sealed (infection).",
            ),
        ),
        **LOW_IMPACT_DOSE,
    ),
    ExerciseData(
        "elliptical-trainer",
        "Elliptical trainer",
        "low_impact_aerobic",
        R.WHOLE_BODY,
        "Use the elliptical trainer upright at a moderate resistance for 30 minutes, 3 to 4 "
        "times a week.",
        **LOW_IMPACT_DOSE,
    ),
    # High-impact aerobic
    ExerciseData(
        "running",
        "Running",
        "high_impact_aerobic",
        R.WHOLE_BODY,
        "Run at a comfortable pace on an even surface. Build up time gradually.",
        minutes=20,
        days_per_week=3,
    ),
    ExerciseData(
        "jumping-jacks",
        "Jumping jacks",
        "high_impact_aerobic",
        R.WHOLE_BODY,
        "Jump your feet apart while raising your arms overhead, then jump back; land softly.",
        sets=3,
        reps=20,
        days_per_week=3,
    ),
    ExerciseData(
        "skipping-rope",
        "Skipping rope",
        "high_impact_aerobic",
        R.WHOLE_BODY,
        "Skip with both feet, low jumps, landing softly on the balls of the feet.",
        sets=3,
        minutes=2,
        days_per_week=3,
    ),
    # Aquatic
    ExerciseData(
        "water-walking",
        "Water walking",
        "aquatic",
        R.WHOLE_BODY,
        "Walk forwards, backwards and sideways in chest-deep water, upright with the stomach "
        "gently tightened; 30 minutes, 3 to 4 times a week.",
        **LOW_IMPACT_DOSE,
    ),
    ExerciseData(
        "deep-water-running",
        "Deep-water running",
        "aquatic",
        R.WHOLE_BODY,
        "Wearing a flotation belt in deep water, run with your feet off the bottom, upright; "
        "20 to 30 minutes.",
        minutes=20,
        days_per_week=3,
    ),
    ExerciseData(
        "aquatic-leg-swings",
        "Leg swings in water",
        "aquatic",
        R.HIP,
        "Stand in waist-deep water holding the edge and swing one straight leg forwards and "
        "back, then out to the side, keeping the trunk still; 10 times each way, each leg.",
        sets=2,
        reps=10,
        days_per_week=3,
    ),
    # Stabilisation
    ExerciseData(
        "abdominal-bracing",
        "Abdominal bracing (drawing-in)",
        "stabilisation",
        R.ABDOMEN,
        "Lie on your back with the knees bent. Gently draw your lower stomach in towards your "
        "spine without moving the back or holding your breath. Hold 10 seconds, 10 times.",
        sets=1,
        reps=10,
        hold_seconds=10,
        times_per_day=2,
        days_per_week=7,
    ),
    ExerciseData(
        "pelvic-tilt",
        "Pelvic tilt",
        "stabilisation",
        R.LUMBAR,
        "Lie on your back with the knees bent. Tighten your stomach and flatten your lower back "
        "into the floor by tilting the pelvis. Hold 5 seconds, 10 times.",
        sets=1,
        reps=10,
        hold_seconds=5,
        times_per_day=2,
        days_per_week=7,
    ),
    ExerciseData(
        "bird-dog",
        "Bird dog",
        "stabilisation",
        R.LUMBAR,
        "On hands and knees with the back flat, brace your stomach and reach one arm forward and "
        "the opposite leg back without letting the back sag or twist. Hold 5 seconds; "
        "alternate sides, 10 times each.",
        sets=2,
        reps=10,
        hold_seconds=5,
        days_per_week=5,
    ),
    ExerciseData(
        "dead-bug",
        "Dead bug",
        "stabilisation",
        R.LUMBAR,
        "Lie on your back with the arms up and the hips and knees at 90 degrees. Keep your lower "
        "back on the floor and slowly lower one arm and the opposite leg; alternate, 10 times "
        "each side.",
        sets=2,
        reps=10,
        days_per_week=5,
    ),
    ExerciseData(
        "plank",
        "Plank",
        "stabilisation",
        R.ABDOMEN,
        "Support yourself on your forearms and toes (or knees) with the body in a straight line "
        "from head to heels; do not let the hips sag. Hold 20 seconds, 3 times.",
        reps=3,
        hold_seconds=20,
        days_per_week=5,
    ),
    ExerciseData(
        "side-plank",
        "Side plank",
        "stabilisation",
        R.ABDOMEN,
        "Lie on your side propped on one forearm, knees bent or legs straight, and lift the hips "
        "so the body forms a straight line. Hold 15 seconds, 3 times each side.",
        reps=3,
        hold_seconds=15,
        days_per_week=5,
    ),
    # Strengthening
    ExerciseData(
        "bridge",
        "Bridge",
        "strengthening",
        R.HIP,
        "Lie on your back with the knees bent, tighten your stomach and buttocks and lift the "
        "hips until the body is straight from shoulders to knees. Hold 5 seconds, 10 times.",
        sets=2,
        reps=10,
        hold_seconds=5,
        days_per_week=5,
    ),
    ExerciseData(
        "clamshell",
        "Clamshell",
        "strengthening",
        R.HIP,
        "Lie on your side with the hips and knees bent and the feet together. Keeping the feet "
        "together and the pelvis still, lift the top knee; lower slowly. 15 times each side.",
        sets=2,
        reps=15,
        days_per_week=5,
    ),
    ExerciseData(
        "wall-squat",
        "Wall squat",
        "strengthening",
        R.THIGH,
        "Stand with your back against a wall, feet forward, and slide down until the knees are "
        "bent about 45 degrees. Hold 10 seconds and slide up; 10 times.",
        sets=1,
        reps=10,
        hold_seconds=10,
        days_per_week=5,
    ),
    ExerciseData(
        "side-lying-hip-abduction",
        "Side-lying hip abduction",
        "strengthening",
        R.HIP,
        "Lie on your side with the bottom knee bent. Lift the straight top leg, slightly behind "
        "the body, toes forward; lower slowly. 15 times each side.",
        sets=2,
        reps=15,
        days_per_week=5,
    ),
    ExerciseData(
        "sit-to-stand",
        "Sit to stand",
        "strengthening",
        R.THIGH,
        "From a firm chair, lean forward from the hips with a straight back and stand up without "
        "using your hands; sit down slowly. 10 times.",
        sets=2,
        reps=10,
        days_per_week=5,
    ),
    ExerciseData(
        "resistance-band-row",
        "Resistance band row",
        "strengthening",
        R.THORACIC,
        "Sit or stand tall holding a band anchored in front of you; pull the elbows back, "
        "squeezing the shoulder blades together; return slowly. 15 times.",
        sets=2,
        reps=15,
        days_per_week=3,
    ),
    ExerciseData(
        "chin-tuck",
        "Chin tuck",
        "strengthening",
        R.CERVICAL,
        "Sit tall and slide your chin straight back, making a double chin, without tipping the "
        "head. Hold 5 seconds, 10 times.",
        sets=1,
        reps=10,
        hold_seconds=5,
        times_per_day=3,
        days_per_week=7,
    ),
    ExerciseData(
        "heel-raise",
        "Heel raise",
        "strengthening",
        R.ANKLE_FOOT,
        "Stand holding a chair and rise up onto your toes; lower slowly. 15 times.",
        sets=2,
        reps=15,
        days_per_week=5,
    ),
]
