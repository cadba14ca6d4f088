"""Report templates for the clinical-errors recipe (`clinical.py`): X-ray, histopathology, MRI and ultrasound.

Each `Scenario` writes one report (history, technique, findings, impression) with its slots filled at random,
either consistent or with one named error injected, and the one-sentence reason a reviewer would give. The
content is educational: it states textbook facts (silhouette signs, staging cut-offs, stain colours, signal
rules) as a radiologist or pathologist would, but it is not clinical guidance and skips the exceptions a
real report would weigh. Scenarios avoid the situations of the evaluation set (medgemma/eval/data), so the
test measures the skill, not recall of its reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from random import Random

# Error types, as in the evaluation set's metadata.
LATERALITY = "laterality_mismatch"
MISSED = "missed_critical_finding"
UNIT = "measurement_unit_inconsistency"
PATIENT = "patient_detail_mismatch"
ANATOMY = "wrong_anatomy"
RANGE = "wrong_normal_range"
CONTRA = "contradictory_impression"
TECHNIQUE = "wrong_technique_claim"
MISID = "misidentified_finding"
STAIN = "wrong_stain_interpretation"
STAGE = "wrong_stage_or_grade"


@dataclass(frozen=True)
class Patient:
    age: int
    sex: str  # "male" or "female"

    @property
    def noun(self) -> str:
        """"67-year-old man", "9-year-old girl"."""
        male = self.sex == "male"
        word = ("boy" if male else "girl") if self.age < 16 else ("man" if male else "woman")
        return f"{self.age}-year-old {word}"

    @property
    def a(self) -> str:
        """The article before `noun`: "an 8-year-old", "an 18-year-old", "a 67-year-old"."""
        return "an" if str(self.age).startswith("8") or self.age in (11, 18) else "a"

    @property
    def person(self) -> str:
        return "a man" if self.sex == "male" and self.age >= 16 else "a woman" if self.age >= 16 else (
            "a boy" if self.sex == "male" else "a girl")


@dataclass(frozen=True)
class Draft:
    """One report before layout: each part a phrase without its final full stop."""

    history: str  # the indication, a noun phrase: "fever and a productive cough"
    technique: str  # "PA chest X-ray", "Core biopsy of the left breast"
    findings: str
    impression: str
    reason: str  # one sentence, the verdict's reason


Make = Callable[[Random, Patient, "str | None"], Draft]


@dataclass(frozen=True)
class Scenario:
    """A report family. `errors` maps each error type it can carry to that error's severity. With
    `flip_sex`, a patient_detail_mismatch report is written for the other sex than `sexes` allows (an organ
    the patient cannot have)."""

    name: str
    modality: str
    errors: dict[str, str]
    make: Make
    ages: tuple[int, int] = (25, 85)
    sexes: tuple[str, ...] = ("male", "female")
    flip_sex: bool = False


SCENARIOS: list[Scenario] = []


def scenario(modality: str, errors: dict[str, str], ages: tuple[int, int] = (25, 85),
             sexes: tuple[str, ...] = ("male", "female"), flip_sex: bool = False) -> Callable[[Make], Make]:
    def register(make: Make) -> Make:
        SCENARIOS.append(Scenario(make.__name__, modality, errors, make, ages, sexes, flip_sex))
        return make
    return register


def other(side: str) -> str:
    return {"left": "right", "right": "left"}[side]


def swap_unit(unit: str) -> str:
    return {"mm": "cm", "cm": "mm", "cm/s": "m/s"}[unit]


def num(value: float) -> str:
    """1.0 -> "1", 2.50 -> "2.5"."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def physes(r: Random, pt: Patient, err: str | None, bone: str) -> tuple[str, str]:
    """A growth-plate remark that fits the patient's age, or (patient_detail_mismatch) one that does not,
    with the reason for the mismatch."""
    child = pt.age < 15
    state = "open" if child != (err == PATIENT) else "fused"
    text = r.choice([f"the {bone} growth plates are {state}", f"{state} {bone} physes"])
    why = (f"{'Open' if state == 'open' else 'Fused'} {bone} growth plates do not fit a {pt.age}-year-old, "
           "so the images or the findings may belong to another patient")
    return text, why


# ============================================================================================================
# X-ray
# ============================================================================================================

_LOBES = [
    # side, zone, sign, short sign, lobe, wrong lobe (wrong_anatomy), why the wrong lobe is wrong
    ("right", "right upper zone", "its lower edge is sharply bounded by the horizontal fissure",
     "sharp lower border along the horizontal fissure", "right upper lobe", "right middle lobe",
     "consolidation above the horizontal fissure lies in the right upper lobe, whereas the middle lobe lies "
     "below it"),
    ("right", "right mid zone", "the right heart border is obscured while the right hemidiaphragm stays sharp",
     "loss of the right heart border", "right middle lobe", "right lower lobe",
     "loss of the right heart border with a sharp hemidiaphragm places it in the middle lobe, whereas lower "
     "lobe consolidation obscures the hemidiaphragm"),
    ("left", "left mid zone", "the left heart border is obscured while the left hemidiaphragm stays sharp",
     "loss of the left heart border", "lingula", "left lower lobe",
     "loss of the left heart border points to the lingula, whereas left lower lobe consolidation obscures the "
     "hemidiaphragm"),
    ("left", "left lower zone behind the heart",
     "the medial left hemidiaphragm is effaced while the left heart border remains visible",
     "loss of the left hemidiaphragm outline", "left lower lobe", "lingula",
     "loss of the left hemidiaphragm outline with a visible heart border places it in the left lower lobe, "
     "whereas lingular consolidation obscures the heart border"),
]


@scenario("xray", {LATERALITY: "moderate", ANATOMY: "low", CONTRA: "moderate"})
def lobar_pneumonia(r: Random, pt: Patient, err: str | None) -> Draft:
    choices = [lobe for lobe in _LOBES if err != LATERALITY or lobe[4] in ("right upper lobe", "left lower lobe")]
    side, zone, sign, short, lobe, wrong, why = r.choice(choices)
    history = r.choice(["fever and a productive cough", "three days of fever, cough and breathlessness",
                        "cough with green sputum and a raised CRP", "pleuritic chest pain and fever"])
    findings = (f"{r.choice(['airspace consolidation', 'dense consolidation'])} with air bronchograms in the "
                f"{zone}; {sign}; {r.choice(['no pleural effusion', 'the costophrenic angles are clear'])}")
    name = "lingular" if lobe == "lingula" else lobe
    impression = r.choice([f"{name} pneumonia", f"consolidation in the {lobe}, in keeping with pneumonia"])
    reason = f"The {short} localises the consolidation to the {lobe}, which the impression names correctly."
    if err == LATERALITY:
        bad = lobe.replace(side, other(side))
        impression = impression.replace(lobe, bad)
        reason = f"The consolidation lies in the {zone} but the impression names the {bad}, a laterality mismatch."
    elif err == ANATOMY:
        impression = impression.replace(name, "lingular" if wrong == "lingula" else wrong).replace(lobe, wrong)
        reason = f"The impression names the {wrong}, but {why}."
    elif err == CONTRA:
        impression = r.choice(["clear lungs; no focal consolidation", "no acute cardiopulmonary abnormality"])
        reason = (f"The findings describe consolidation with air bronchograms in the {zone}, which the impression "
                  "contradicts by calling the lungs clear.")
    return Draft(history, "PA chest X-ray", findings, impression, reason)


@scenario("xray", {LATERALITY: "moderate", MISSED: "high", CONTRA: "moderate"})
def pleural_effusion(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    large = err == MISSED or r.random() < 0.3
    history = r.choice(["increasing breathlessness", "breathlessness and weight loss",
                        "known heart failure with worsening breathlessness", "dull chest pain and a dry cough"])
    if large:
        findings = (f"a dense opacity fills most of the {side} hemithorax with a meniscus at its upper edge; the "
                    f"trachea and mediastinum are displaced to the {other(side)}")
        impression = f"large {side} pleural effusion with mediastinal shift; urgent drainage to be considered"
        reason = ("A large effusion pushing the mediastinum away is correctly reported as a large effusion with "
                  "mass effect needing urgent attention.")
    else:
        findings = (f"blunting of the {side} costophrenic angle with a meniscus-shaped opacity at the {side} base; "
                    f"the {other(side)} lung is clear")
        impression = r.choice([f"small {side} pleural effusion", f"{side} pleural effusion; no consolidation seen"])
        reason = (f"A meniscus blunting the {side} costophrenic angle is a {side} pleural effusion, as the "
                  "impression states.")
    if err == LATERALITY:
        impression = impression.replace(side, other(side))
        reason = (f"The effusion is described at the {side} base but the impression places it on the "
                  f"{other(side)}, a laterality mismatch.")
    elif err == MISSED:
        impression = r.choice(["no acute abnormality", "stable appearances; routine follow-up"])
        reason = (f"A large {side} effusion displacing the mediastinum needs urgent attention, yet the impression "
                  "dismisses it.")
    elif err == CONTRA:
        impression = "costophrenic angles clear; no pleural effusion"
        reason = (f"The findings describe a meniscus at the {side} base, which the impression contradicts by "
                  "excluding an effusion.")
    return Draft(history, r.choice(["PA chest X-ray", "Erect PA chest X-ray"]), findings, impression, reason)


@scenario("xray", {LATERALITY: "moderate", MISID: "moderate", ANATOMY: "moderate", PATIENT: "low"}, ages=(45, 90))
def distal_radius_fracture(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    dist = r.choice([1, 2, 3])
    history = f"{side} wrist pain and deformity after a fall onto the outstretched hand"
    plates, plates_why = physes(r, pt, err, "distal radial")
    findings = (f"a transverse fracture of the {side} distal radial metaphysis about {dist} cm from the articular "
                f"surface, with dorsal angulation and dorsal displacement of the distal fragment; {plates}")
    impression = r.choice([f"Colles fracture of the {side} distal radius",
                           f"dorsally angulated extra-articular {side} distal radius (Colles) fracture"])
    reason = ("A distal radial metaphyseal fracture with dorsal angulation of the distal fragment is a Colles "
              "fracture, and the side matches.")
    if err == LATERALITY:
        impression = impression.replace(side, other(side))
        reason = (f"The history and findings describe the {side} wrist but the impression names the "
                  f"{other(side)}, a laterality mismatch.")
    elif err == MISID:
        impression = f"Smith fracture of the {side} distal radius"
        reason = ("Dorsal angulation of the distal fragment defines a Colles fracture, whereas a Smith fracture "
                  "is angulated volarly.")
    elif err == ANATOMY:
        impression = f"fracture of the {side} distal ulna"
        reason = "The fracture described is in the distal radius, so naming the distal ulna is the wrong bone."
    elif err == PATIENT:
        reason = plates_why + "."
    return Draft(history, f"{side.capitalize()} wrist X-ray, PA and lateral views", findings, impression, reason)


_SALTER_SHORT = {"I": "through the physis alone", "II": "through the physis and out through the metaphysis",
                 "III": "through the physis and the epiphysis", "IV": "across the metaphysis, physis and epiphysis"}
_SALTER = {
    "I": "a fracture running entirely through the physis, with widening of the growth plate",
    "II": "a fracture through the physis that exits through a triangular fragment of the metaphysis",
    "III": "a fracture through the physis that extends through the epiphysis into the joint",
    "IV": "a vertical fracture crossing the metaphysis, the physis and the epiphysis",
}


@scenario("xray", {STAGE: "moderate", LATERALITY: "moderate", PATIENT: "low"}, ages=(7, 14))
def salter_harris(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    bone, place = r.choice([("distal radius", "wrist"), ("distal tibia", "ankle"), ("distal fibula", "ankle"),
                            ("proximal phalanx of the little finger", "hand")])
    kind = r.choice(list(_SALTER))
    history = r.choice([f"a fall from a climbing frame with {side} {place} pain",
                        f"{side} {place} pain and swelling after a sports injury"])
    findings = f"the {side} {bone} shows {_SALTER[kind]}"
    plates = "open" if err != PATIENT else "fused"
    findings += f"; the other growth plates are {plates}"
    impression = f"Salter-Harris type {kind} fracture of the {side} {bone}"
    reason = f"A fracture {_SALTER_SHORT[kind]} is Salter-Harris type {kind}, as the impression states."
    if err == STAGE:
        wrong = r.choice([k for k in _SALTER if k != kind])
        impression = impression.replace(f"type {kind}", f"type {wrong}")
        reason = f"A fracture {_SALTER_SHORT[kind]} is Salter-Harris type {kind}, not type {wrong}."
    elif err == LATERALITY:
        impression = impression.replace(side, other(side))
        reason = (f"The fracture is described in the {side} {bone} but the impression names the {other(side)} "
                  "side, a laterality mismatch.")
    elif err == PATIENT:
        reason = (f"Fused growth plates do not fit a {pt.age}-year-old with a physeal fracture, so part of the "
                  "report may belong to another patient.")
    return Draft(history, f"{side.capitalize()} {place} X-ray", findings, impression, reason)


@scenario("xray", {LATERALITY: "high", ANATOMY: "moderate", MISSED: "high", PATIENT: "low"}, ages=(70, 95))
def hip_fracture(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    history = r.choice([f"a fall at home, unable to bear weight, with a shortened, externally rotated {side} leg",
                        f"{side} hip pain and inability to walk after a fall"])
    plates, plates_why = physes(r, pt, err, "proximal femoral")
    findings = (f"a lucent fracture line crosses the {side} femoral neck just below the head, with displacement "
                f"and disruption of Shenton's line; {plates}")
    impression = r.choice([f"displaced intracapsular (subcapital) fracture of the {side} femoral neck",
                           f"displaced {side} subcapital neck of femur fracture"])
    reason = (f"A displaced fracture just below the femoral head is an intracapsular subcapital fracture, on the "
              f"{side} as in the history.")
    if err == LATERALITY:
        impression = impression.replace(side, other(side))
        reason = (f"The fracture is in the {side} femoral neck but the impression names the {other(side)} hip, a "
                  "laterality mismatch that could lead to surgery on the wrong side.")
    elif err == ANATOMY:
        impression = f"{side} intertrochanteric femoral fracture"
        reason = ("A fracture just below the femoral head is intracapsular subcapital, whereas an "
                  "intertrochanteric fracture lies between the trochanters outside the capsule.")
    elif err == MISSED:
        impression = r.choice(["no acute bony injury", "degenerative changes only; no fracture"])
        reason = (f"A displaced {side} femoral neck fracture is described but the impression reports no fracture, "
                  "missing an injury that needs surgery.")
    elif err == PATIENT:
        reason = plates_why + "."
    return Draft(history, r.choice(["AP pelvis and lateral hip X-ray", f"{side.capitalize()} hip X-ray"]),
                 findings, impression, reason)


@scenario("xray", {RANGE: "moderate", UNIT: "low", MISID: "moderate", TECHNIQUE: "low"})
def small_bowel_obstruction(r: Random, pt: Patient, err: str | None) -> Draft:
    size = r.choice([3.8, 4.0, 4.2, 4.5, 4.8, 5.0])
    erect = err != TECHNIQUE and r.random() < 0.5
    history = r.choice(["colicky abdominal pain, vomiting and distension after previous appendicectomy",
                        "vomiting and absolute constipation", "abdominal distension and bilious vomiting"])
    technique = "Supine and erect abdominal X-ray" if erect else "Supine abdominal X-ray"
    findings = (f"multiple dilated, centrally placed gas-filled loops up to {num(size)} cm in diameter, with folds "
                "that cross the full width of the bowel; little gas in the colon")
    if erect:
        findings += "; the erect film shows several air-fluid levels"
    if err == TECHNIQUE:
        findings += "; multiple air-fluid levels are seen on this supine film"
    normal = r.random() < 0.5
    impression = (f"dilated small bowel {'(normal calibre up to 3 cm) ' if normal else ''}in keeping with "
                  "small bowel obstruction")
    reason = ("Central loops over 3 cm with folds crossing the full width are dilated small bowel, consistent "
              "with obstruction.")
    if err == RANGE:
        impression = "small bowel calibre within normal limits (normal up to 5 cm); no obstruction"
        reason = (f"Small bowel is normally under 3 cm across, so loops of {num(size)} cm are dilated and the stated "
                  "normal range is wrong.")
    elif err == UNIT:
        impression = f"small bowel obstruction with loops dilated to {num(size)} mm"
        reason = (f"The loops measure {num(size)} cm in the findings but {num(size)} mm in the impression, a unit "
                  "inconsistency.")
    elif err == MISID:
        impression = "large bowel obstruction"
        reason = ("Central loops with folds crossing the whole width are small bowel (valvulae conniventes), "
                  "whereas colonic haustra do not cross the full width.")
    elif err == TECHNIQUE:
        reason = ("Air-fluid levels need a horizontal X-ray beam, as on an erect or decubitus film, and cannot be "
                  "seen on a supine film.")
    return Draft(history, technique, findings, impression, reason)


@scenario("xray", {RANGE: "high", MISSED: "high", UNIT: "low"}, ages=(55, 90))
def large_bowel_obstruction(r: Random, pt: Patient, err: str | None) -> Draft:
    caecum = r.choice([10, 11, 12, 13])
    colon = r.choice([7, 8, 9])
    history = r.choice(["progressive abdominal distension and no bowel movement for five days",
                        "change in bowel habit, weight loss and now absolute constipation"])
    findings = (f"the colon is dilated with haustral markings up to {colon} cm, to an abrupt cut-off in the "
                f"sigmoid; the caecum measures {caecum} cm; no gas in the rectum")
    normal = r.random() < 0.5
    impression = (f"large bowel obstruction at the sigmoid with caecal dilatation to {caecum} cm "
                  f"{'(above the 9 cm threshold) ' if normal else ''}, at risk of perforation; urgent surgical review")
    reason = (f"A caecum of {caecum} cm is above the 9 cm threshold, so urgent review for large bowel obstruction "
              "is correctly advised.")
    if err == RANGE:
        impression = (f"caecal diameter of {caecum} cm within normal limits (normal up to 15 cm); large bowel "
                      "dilatation for clinical correlation")
        reason = (f"The caecum is normally under 9 cm across, so {caecum} cm is dangerously dilated and the stated "
                  "normal range is wrong.")
    elif err == MISSED:
        impression = r.choice(["non-specific bowel gas pattern", "no acute abnormality; constipation"])
        reason = (f"A dilated colon cut off in the sigmoid with a {caecum} cm caecum is large bowel obstruction at "
                  "risk of perforation, which the impression dismisses.")
    elif err == UNIT:
        impression = (f"large bowel obstruction at the sigmoid with caecal dilatation to {caecum} mm; urgent "
                      "surgical review")
        reason = (f"The caecum measures {caecum} cm in the findings but {caecum} mm in the impression, a unit "
                  "inconsistency.")
    impression = impression.replace(" ,", ",")
    return Draft(history, "Supine abdominal X-ray", findings, impression, reason)


@scenario("xray", {MISID: "moderate", LATERALITY: "moderate", CONTRA: "moderate"}, ages=(18, 60))
def shoulder_dislocation(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    history = r.choice([f"{side} shoulder pain after a tackle, holding the arm in external rotation",
                        f"a fall onto the {side} arm with loss of the shoulder contour"])
    findings = (f"the {side} humeral head lies anterior and inferior to the glenoid, below the coracoid process, "
                "on the AP and Y views; no fracture is seen")
    impression = r.choice([f"anterior dislocation of the {side} shoulder",
                           f"anterior {side} glenohumeral dislocation without fracture"])
    reason = ("A humeral head lying anterior and inferior to the glenoid below the coracoid is an anterior "
              "dislocation, as reported.")
    if err == MISID:
        impression = f"posterior dislocation of the {side} shoulder"
        reason = ("A humeral head below the coracoid, anterior to the glenoid, is an anterior dislocation; a "
                  "posterior dislocation lies behind the glenoid.")
    elif err == LATERALITY:
        impression = impression.replace(side, other(side))
        reason = (f"The dislocation is of the {side} shoulder but the impression names the {other(side)}, a "
                  "laterality mismatch.")
    elif err == CONTRA:
        impression = "normal glenohumeral alignment; no dislocation"
        reason = ("The findings place the humeral head anterior and inferior to the glenoid, which contradicts an "
                  "impression of normal alignment.")
    return Draft(history, f"{side.capitalize()} shoulder X-ray, AP and Y views", findings, impression, reason)


@scenario("xray", {CONTRA: "moderate", TECHNIQUE: "low", PATIENT: "low"}, ages=(5, 80))
def normal_chest(r: Random, pt: Patient, err: str | None) -> Draft:
    ap = err == TECHNIQUE or r.random() < 0.4
    history = r.choice(["a persistent dry cough", "pre-operative assessment", "fever with no focal signs",
                        "mild breathlessness on exertion"])
    plates, plates_why = physes(r, pt, err, "proximal humeral")
    findings = (f"the lungs are clear; the heart and mediastinum are normal in outline; the costophrenic angles "
                f"are sharp; {plates}")
    technique = "AP chest X-ray" if ap else "PA chest X-ray"
    impression = "normal chest radiograph"
    if ap and r.random() < 0.5:
        impression += "; heart size cannot be reliably assessed on an AP film, which magnifies the heart"
    reason = "The findings describe clear lungs and a normal heart and mediastinum, so a normal impression fits."
    if err == CONTRA:
        finding = r.choice(["left lower lobe consolidation", "bilateral pleural effusions", "a right hilar mass"])
        impression = finding
        reason = (f"The findings describe clear lungs and sharp costophrenic angles, which contradicts an "
                  f"impression of {finding}.")
    elif err == TECHNIQUE:
        impression = "normal chest radiograph; heart size is accurately assessed as this AP film shows it smaller"
        reason = ("An AP film magnifies the heart because it is further from the detector, so it does not show "
                  "the heart smaller.")
    elif err == PATIENT:
        reason = plates_why + "."
    return Draft(history, technique, findings, impression, reason)


@scenario("xray", {MISSED: "high", CONTRA: "high", LATERALITY: "moderate"})
def central_line(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    vein = r.choice(["subclavian", "internal jugular"])
    history = f"a new {side} {vein} central venous catheter"
    tip = r.choice(["at the cavoatrial junction", "in the lower superior vena cava"])
    findings = f"the {side} {vein} catheter tip projects {tip}; no pneumothorax"
    impression = r.choice([f"{side} {vein} central line in satisfactory position; no pneumothorax",
                           "satisfactory line position; no complication"])
    reason = (f"A catheter tip {tip} is a satisfactory position, and no pneumothorax is described or reported.")
    if err == MISSED:
        findings = (f"the {side} {vein} catheter tip projects {tip}; there is a new {side} pneumothorax with a "
                    f"visceral pleural line 3 cm from the chest wall")
        reason = (f"A new {side} pneumothorax after line insertion is described in the findings but omitted from "
                  "the impression.")
    elif err == CONTRA:
        if vein == "subclavian":
            findings = (f"the {side} subclavian catheter turns upwards into the {side} internal jugular vein; "
                        "no pneumothorax")
            reason = ("A subclavian catheter turned up into the internal jugular vein is malpositioned, so "
                      "calling its position satisfactory contradicts the findings.")
        else:
            findings = (f"the {side} internal jugular catheter crosses into the {side} subclavian vein, its tip in "
                        "the axillary region; no pneumothorax")
            reason = ("A jugular catheter whose tip lies out in the subclavian and axillary veins is malpositioned, "
                      "so calling its position satisfactory contradicts the findings.")
        impression = f"{side} {vein} central line in satisfactory position; no pneumothorax"
    elif err == LATERALITY:
        impression = f"{other(side)} {vein} central line in satisfactory position; no pneumothorax"
        reason = (f"The catheter is described as {side}-sided but the impression names the {other(side)} side, a "
                  "laterality mismatch.")
    return Draft(history, "AP chest X-ray", findings, impression, reason)


_WEBER = {"A": "below the level of the syndesmosis", "B": "at the level of the syndesmosis",
          "C": "above the level of the syndesmosis"}


@scenario("xray", {STAGE: "moderate", ANATOMY: "moderate", LATERALITY: "moderate"}, ages=(18, 80))
def ankle_fracture(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    kind = r.choice(list(_WEBER))
    history = r.choice([f"an inversion injury of the {side} ankle", f"{side} ankle swelling after a twisting fall"])
    findings = (f"an oblique fracture of the distal fibula (lateral malleolus) {_WEBER[kind]}; the ankle mortise "
                f"is congruent")
    impression = f"Weber {kind} fracture of the {side} lateral malleolus"
    reason = f"A distal fibular fracture {_WEBER[kind]} is Weber {kind}, as reported."
    if err == STAGE:
        wrong = r.choice([k for k in _WEBER if k != kind])
        impression = impression.replace(f"Weber {kind}", f"Weber {wrong}")
        reason = f"A distal fibular fracture {_WEBER[kind]} is Weber {kind}, not Weber {wrong}."
    elif err == ANATOMY:
        impression = f"Weber {kind} fracture of the {side} medial malleolus"
        reason = ("The fracture is of the distal fibula, the lateral malleolus, whereas the medial malleolus is "
                  "part of the tibia.")
    elif err == LATERALITY:
        impression = impression.replace(side, other(side))
        reason = (f"The injury is to the {side} ankle but the impression names the {other(side)}, a laterality "
                  "mismatch.")
    return Draft(history, f"{side.capitalize()} ankle X-ray, AP, mortise and lateral views", findings, impression,
                 reason)


# ============================================================================================================
# Histopathology
# ============================================================================================================

_GLEASON = [(3, 3, 1), (3, 4, 2), (4, 3, 3), (4, 4, 4), (3, 5, 4), (4, 5, 5), (5, 4, 5)]


@scenario("histopathology", {STAGE: "moderate", PATIENT: "high", UNIT: "low", STAIN: "high"}, ages=(50, 85),
          sexes=("male",), flip_sex=True)
def prostate_gleason(r: Random, pt: Patient, err: str | None) -> Draft:
    p, s, group = r.choice(_GLEASON)
    cores = r.choice([10, 12])
    positive = r.randint(2, 6)
    length = r.choice([3, 4, 5, 6, 7, 8])
    spec = r.choice([f"Transrectal prostate biopsies ({cores} cores)", f"Transperineal prostate biopsies ({cores} cores)"])
    history = r.choice(["a PSA of 9 ng/mL", "a raised PSA and a PI-RADS 4 lesion on MRI",
                        "an abnormal digital rectal examination"])
    findings = (f"infiltrating small acinar glands lacking basal cells in {positive} of {cores} cores, maximum tumour "
                f"length {length} mm; Gleason pattern {p} + {s}; p63 and high-molecular-weight cytokeratin show no "
                "basal cells in the atypical glands and AMACR is positive")
    impression = (f"acinar adenocarcinoma of the prostate, Gleason score {p} + {s} = {p + s} (ISUP grade group "
                  f"{group}), maximum tumour length {length} mm")
    reason = (f"Gleason {p} + {s} = {p + s} is ISUP grade group {group}, and absent basal cells with positive AMACR "
              "support carcinoma.")
    if err == STAGE:
        wrong = r.choice([g for g in range(1, 6) if g != group])
        impression = impression.replace(f"grade group {group}", f"grade group {wrong}")
        reason = f"Gleason {p} + {s} = {p + s} corresponds to ISUP grade group {group}, not grade group {wrong}."
    elif err == PATIENT:
        reason = (f"Prostate biopsies do not fit a patient recorded as {pt.person}, so the request or the specimen "
                  "label belongs to someone else.")
    elif err == UNIT:
        impression = impression.replace(f"length {length} mm", f"length {length} cm")
        reason = (f"The tumour length is {length} mm in the microscopy but {length} cm in the conclusion, longer "
                  "than a biopsy core can be.")
    elif err == STAIN:
        impression = "benign prostatic tissue; no evidence of malignancy"
        reason = ("Glands with no p63 or high-molecular-weight cytokeratin basal cells and positive AMACR support "
                  "adenocarcinoma, so reading them as benign misinterprets the stains.")
    return Draft(history, spec, findings, impression, reason)


def _nottingham(total: int) -> int:
    return 1 if total <= 5 else 2 if total <= 7 else 3


@scenario("histopathology", {STAGE: "moderate", STAIN: "high", UNIT: "low"}, ages=(35, 85), sexes=("female",))
def breast_grade_her2(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    t, n, m = r.randint(1, 3), r.randint(1, 3), r.randint(1, 3)
    grade = _nottingham(t + n + m)
    size = r.choice([12, 15, 18, 24, 28, 35])
    her2 = r.choice(["0", "1+", "3+"])
    her2_call = {"0": "HER2-negative", "1+": "HER2-low (negative by conventional criteria)", "3+": "HER2-positive"}
    spec = f"Wide local excision of the {side} breast"
    history = r.choice(["a screen-detected mass", "a palpable lump", "a biopsy-proven carcinoma"])
    findings = (f"invasive carcinoma of no special type, {size} mm; tubule formation score {t}, nuclear "
                f"pleomorphism score {n}, mitotic score {m} (total {t + n + m}); HER2 immunohistochemistry score "
                f"{her2}")
    impression = f"invasive carcinoma of no special type, {size} mm, Nottingham grade {grade}, {her2_call[her2]}"
    reason = (f"A Nottingham total of {t + n + m} is grade {grade}, and a HER2 score of {her2} is "
              f"{her2_call[her2].split(' (')[0]}.")
    if err == STAGE:
        wrong = r.choice([g for g in (1, 2, 3) if g != grade])
        impression = impression.replace(f"grade {grade}", f"grade {wrong}")
        reason = (f"A Nottingham total of {t + n + m} is grade {grade} (3-5 grade 1, 6-7 grade 2, 8-9 grade 3), "
                  f"not grade {wrong}.")
    elif err == STAIN:
        if her2 == "3+":
            impression = impression.replace("HER2-positive", "HER2-negative")
            reason = "A HER2 immunohistochemistry score of 3+ is HER2-positive, so calling it negative misreads the stain."
        else:
            impression = impression.replace(her2_call[her2], "HER2-positive; eligible for HER2-targeted therapy")
            reason = (f"A HER2 score of {her2} is not HER2-positive (only 3+, or 2+ with amplification on in situ "
                      "hybridisation, is), so the stain is misread.")
    elif err == UNIT:
        impression = impression.replace(f"{size} mm", f"{size} cm")
        reason = f"The tumour measures {size} mm in the microscopy but {size} cm in the conclusion, a unit inconsistency."
    return Draft(history, spec, findings, impression, reason)


@scenario("histopathology", {STAIN: "high", MISID: "high"}, ages=(20, 80))
def mycobacterial_granulomas(r: Random, pt: Patient, err: str | None) -> Draft:
    site = r.choice(["Cervical lymph node excision", "Transbronchial lung biopsy", "Endobronchial ultrasound-guided "
                     "mediastinal lymph node biopsy"])
    history = r.choice(["night sweats, weight loss and a cough", "fever and enlarging neck nodes",
                        "a cavitating upper lobe lesion"])
    negative = err is None and r.random() < 0.4
    if negative:
        history = r.choice(["bilateral hilar lymphadenopathy and erythema nodosum", "a dry cough and enlarged "
                            "mediastinal nodes"])
        findings = ("numerous tight non-necrotising epithelioid granulomas with multinucleate giant cells; "
                    "Ziehl-Neelsen and Grocott stains show no organisms")
        impression = ("non-necrotising granulomatous inflammation with negative special stains, consistent with "
                      "sarcoidosis in the right clinical setting; culture advised")
        reason = ("Tight non-necrotising granulomas with negative stains for mycobacteria and fungi fit "
                  "sarcoidosis, and the conclusion rightly asks for clinical correlation and culture.")
        return Draft(history, site, findings, impression, reason)
    findings = ("epithelioid granulomas with central caseous necrosis and Langhans giant cells; the Ziehl-Neelsen "
                "stain shows slender red rod-shaped acid-fast bacilli")
    impression = "necrotising granulomatous inflammation with acid-fast bacilli, consistent with tuberculosis"
    reason = "Caseating granulomas with red acid-fast bacilli on Ziehl-Neelsen staining indicate mycobacterial infection."
    if err == STAIN:
        impression = "necrotising granulomatous inflammation; Ziehl-Neelsen stain negative for acid-fast bacilli"
        reason = ("Red rod-shaped bacilli on a Ziehl-Neelsen stain are acid-fast bacilli, so reporting the stain as "
                  "negative misreads it.")
    elif err == MISID:
        impression = "sarcoidosis"
        reason = ("Caseating granulomas with acid-fast bacilli indicate tuberculosis, whereas sarcoidosis forms "
                  "non-necrotising granulomas without organisms.")
    return Draft(history, site, findings, impression, reason)


@scenario("histopathology", {STAIN: "high", CONTRA: "high"}, ages=(45, 85))
def congo_red(r: Random, pt: Patient, err: str | None) -> Draft:
    site, where = r.choice([("Abdominal fat pad aspirate", "around adipocytes and small vessels"),
                            ("Renal core biopsy", "in the glomerular mesangium and capillary walls"),
                            ("Endomyocardial biopsy", "between myocytes")])
    history = r.choice(["a monoclonal serum paraprotein and proteinuria", "heart failure with thick ventricular "
                        "walls", "peripheral neuropathy and a raised serum free light chain"])
    positive = err is not None or r.random() < 0.6
    if positive:
        findings = (f"amorphous eosinophilic extracellular deposits {where}; with Congo red the deposits stain "
                    "salmon-pink and show apple-green birefringence under polarised light")
        impression = "amyloid deposition; typing of the amyloid protein recommended"
        reason = "Congo red-positive deposits with apple-green birefringence under polarised light are amyloid."
    else:
        findings = (f"no extracellular deposits {where}; the Congo red stain shows no congophilic material and "
                    "no birefringence under polarised light")
        impression = "no amyloid identified in this sample"
        reason = "Without congophilic deposits or birefringence, the stain gives no evidence of amyloid."
    if err == STAIN:
        impression = "Congo red negative; no amyloid identified"
        reason = ("Apple-green birefringence of Congo red-stained deposits under polarised light is diagnostic of "
                  "amyloid, so calling the stain negative misreads it.")
    elif err == CONTRA:
        impression = "normal tissue; no deposits"
        reason = ("The microscopy describes extracellular deposits, which contradicts a conclusion of normal "
                  "tissue with no deposits.")
    return Draft(history, site, findings, impression, reason)


@scenario("histopathology", {STAIN: "high", STAGE: "moderate", UNIT: "low"}, ages=(40, 85))
def colorectal_mmr_nodes(r: Random, pt: Patient, err: str | None) -> Draft:
    spec = r.choice(["Right hemicolectomy", "Anterior resection of the rectosigmoid", "Sigmoid colectomy"])
    history = r.choice(["adenocarcinoma on colonoscopy biopsy", "an obstructing colonic tumour"])
    lost = r.choice([("MLH1 and PMS2", "MSH2 and MSH6"), ("MSH2 and MSH6", "MLH1 and PMS2"), None])
    nodes_total = r.randint(14, 26)
    positive = r.choice([0, 1, 2, 3, 4, 5, 6, 8, 9])
    stage = ("pN0" if positive == 0 else "pN1a" if positive == 1 else "pN1b" if positive <= 3 else
             "pN2a" if positive <= 6 else "pN2b")
    size = r.choice([25, 32, 40, 48, 55])
    if lost:
        stain = f"loss of nuclear {lost[0]} expression with retained {lost[1]}"
        mmr = "mismatch repair deficient"
    else:
        stain = "retained nuclear MLH1, PMS2, MSH2 and MSH6 expression"
        mmr = "mismatch repair proficient"
    findings = (f"moderately differentiated adenocarcinoma, {size} mm, invading through the muscularis propria "
                f"into pericolic fat; {positive} of {nodes_total} lymph nodes contain metastatic carcinoma; "
                f"mismatch repair immunohistochemistry: {stain}")
    impression = f"adenocarcinoma, {size} mm, pT3 {stage} ({positive}/{nodes_total}); {mmr}"
    reason = (f"{positive} involved node{'s' if positive != 1 else ''} is {stage}, and "
              f"{'loss' if lost else 'retention'} of mismatch repair proteins means {mmr}.")
    if err == STAIN:
        wrong = "mismatch repair proficient" if lost else "mismatch repair deficient"
        impression = impression.replace(mmr, wrong)
        reason = (f"{'Loss of ' + lost[0] if lost else 'Retained expression of all four proteins'} means the "
                  f"tumour is {mmr}, so calling it {wrong} misreads the immunohistochemistry.")
    elif err == STAGE:
        wrong = r.choice([s for s in ("pN0", "pN1a", "pN1b", "pN2a", "pN2b") if s != stage])
        impression = impression.replace(stage, wrong)
        reason = (f"{positive} involved regional node{'s' if positive != 1 else ''} is {stage} (1 pN1a, 2-3 pN1b, "
                  f"4-6 pN2a, 7 or more pN2b), not {wrong}.")
    elif err == UNIT:
        impression = impression.replace(f"{size} mm", f"{size} cm")
        reason = (f"The tumour measures {size} mm in the microscopy but {size} cm in the conclusion, a unit "
                  "inconsistency.")
    return Draft(history, spec, findings, impression, reason)


def _melanoma_t(thickness: float) -> str:
    return "pT2" if thickness <= 2.0 else "pT3" if thickness <= 4.0 else "pT4"


@scenario("histopathology", {STAGE: "moderate", UNIT: "low", STAIN: "high"}, ages=(25, 90))
def melanoma_breslow(r: Random, pt: Patient, err: str | None) -> Draft:
    thickness = r.choice([1.2, 1.5, 1.8, 2.3, 2.8, 3.4, 3.9, 4.6, 5.2, 6.0])
    ulcer = r.random() < 0.5
    t = _melanoma_t(thickness) + ("b" if ulcer else "a")
    site = r.choice(["upper back", "left calf", "right shoulder", "scalp", "left forearm"])
    history = r.choice(["a changing pigmented lesion", "an enlarging irregular mole that bleeds"])
    findings = (f"invasive melanoma with a Breslow thickness of {num(thickness)} mm, "
                f"{'with' if ulcer else 'without'} ulceration; the tumour cells are SOX10 and Melan-A positive and "
                "cytokeratin negative; peripheral and deep margins are clear")
    impression = f"invasive melanoma, Breslow thickness {num(thickness)} mm, {t}"
    reason = (f"A Breslow thickness of {num(thickness)} mm {'with' if ulcer else 'without'} ulceration is {t}, and "
              "SOX10 and Melan-A positivity confirms a melanocytic tumour.")
    if err == STAGE:
        wrong = r.choice([s for s in ("pT1a", "pT2a", "pT2b", "pT3a", "pT3b", "pT4a", "pT4b") if s != t])
        impression = impression.replace(t, wrong)
        reason = (f"A Breslow thickness of {num(thickness)} mm {'with' if ulcer else 'without'} ulceration is {t} "
                  f"(pT2 over 1-2 mm, pT3 over 2-4 mm, pT4 over 4 mm), not {wrong}.")
    elif err == UNIT:
        impression = impression.replace(f"{num(thickness)} mm", f"{num(thickness)} cm")
        reason = (f"The Breslow thickness is {num(thickness)} mm in the microscopy but {num(thickness)} cm in the "
                  "conclusion, a unit inconsistency.")
    elif err == STAIN:
        impression = "poorly differentiated carcinoma; melanocytic markers negative"
        reason = ("SOX10 and Melan-A positive, cytokeratin-negative tumour cells are melanocytic, so reading the "
                  "stains as carcinoma is wrong.")
    return Draft(history, f"Excision of a pigmented lesion from the {site}", findings, impression, reason)


@scenario("histopathology", {STAGE: "moderate", PATIENT: "high", UNIT: "low"}, ages=(50, 85), sexes=("female",),
          flip_sex=True)
def endometrial_figo(r: Random, pt: Patient, err: str | None) -> Draft:
    depth = r.choice([15, 25, 35, 40, 60, 70, 80])
    thickness = r.choice([14, 16, 18, 20])
    invaded = round(thickness * depth / 100)
    stage = "IA" if depth < 50 else "IB"
    history = r.choice(["postmenopausal bleeding", "endometrioid carcinoma on pipelle biopsy"])
    findings = (f"endometrioid adenocarcinoma, FIGO grade 1, invading {invaded} mm of a {thickness} mm thick "
                f"myometrium ({depth}%); the cervix and serosa are not involved")
    impression = f"endometrioid adenocarcinoma, FIGO stage {stage}"
    reason = (f"Invasion of {depth}% of the myometrium is {'less than' if depth < 50 else 'at least'} half, which "
              f"is FIGO stage {stage}.")
    if err == STAGE:
        wrong = "IB" if stage == "IA" else "IA"
        impression = impression.replace(stage, wrong)
        reason = (f"Invasion of {depth}% of the myometrium is stage {stage} (under half IA, half or more IB), not "
                  f"stage {wrong}.")
    elif err == PATIENT:
        reason = (f"A hysterectomy specimen does not fit a patient recorded as {pt.person}, so the request or the "
                  "specimen belongs to someone else.")
    elif err == UNIT:
        findings = findings.replace(f"invading {invaded} mm", f"invading {invaded} cm")
        reason = (f"Invasion of {invaded} cm cannot lie within a myometrium {thickness} mm thick, a unit "
                  "inconsistency.")
    return Draft(history, "Total hysterectomy and bilateral salpingo-oophorectomy", findings, impression, reason)


@scenario("histopathology", {STAGE: "high", CONTRA: "high", MISSED: "high"}, ages=(50, 90))
def bladder_turbt(r: Random, pt: Patient, err: str | None) -> Draft:
    depth, stage = r.choice([("confined to the urothelium without invasion", "pTa"),
                             ("invading the lamina propria; the muscularis propria is present and free of tumour",
                              "pT1"),
                             ("invading the muscularis propria (detrusor muscle)", "pT2")])
    if err == MISSED:
        depth, stage = "invading the muscularis propria (detrusor muscle)", "pT2"
    grade = "high-grade" if stage != "pTa" or r.random() < 0.5 else "low-grade"
    history = r.choice(["painless visible haematuria", "a bladder tumour seen at cystoscopy"])
    findings = f"{grade} papillary urothelial carcinoma {depth}"
    impression = f"{grade} papillary urothelial carcinoma, {stage}"
    reason = f"Carcinoma {depth.split(';')[0]} is {stage}, as the conclusion states."
    if err == STAGE:
        wrong = r.choice([s for s in ("pTa", "pT1", "pT2") if s != stage])
        impression = impression.replace(stage, wrong)
        reason = (f"Carcinoma {depth.split(';')[0]} is {stage} (pTa non-invasive, pT1 lamina propria, pT2 "
                  f"muscularis propria), not {wrong}.")
    elif err == CONTRA:
        impression = "benign urothelium; no tumour identified"
        reason = "The microscopy describes papillary urothelial carcinoma, which contradicts a benign conclusion."
    elif err == MISSED:
        impression = f"{grade} papillary urothelial carcinoma, non-muscle-invasive"
        reason = ("Invasion of the detrusor muscle makes the tumour muscle-invasive (pT2), which changes treatment, "
                  "yet the conclusion calls it non-muscle-invasive.")
    return Draft(history, "Transurethral resection of bladder tumour", findings, impression, reason)


@scenario("histopathology", {MISID: "high", STAIN: "high"}, ages=(30, 80))
def fungal_hyphae(r: Random, pt: Patient, err: str | None) -> Draft:
    site, history = r.choice([("Sinus tissue biopsy", "poorly controlled diabetes and facial swelling"),
                              ("Sinus tissue biopsy", "neutropenic fever and nasal crusting after chemotherapy"),
                              ("Lung wedge biopsy", "a cavitating lung nodule after a stem cell transplant"),
                              ("Lung wedge biopsy", "neutropenic fever and a nodule with a halo on CT")])
    kind = r.choice(["aspergillus", "mucor"])
    if kind == "aspergillus":
        hyphae = "narrow, regularly septate hyphae branching at acute angles"
        name = "invasive aspergillosis"
        wrong = "mucormycosis"
        why = ("Narrow septate hyphae branching at acute angles suggest Aspergillus, whereas Mucorales have broad, "
               "ribbon-like, sparsely septate hyphae branching at right angles.")
    else:
        hyphae = "broad, ribbon-like, sparsely septate hyphae branching at right angles"
        name = "invasive mucormycosis"
        wrong = "aspergillosis"
        why = ("Broad ribbon-like sparsely septate hyphae branching at right angles suggest Mucorales, whereas "
               "Aspergillus has narrow septate hyphae branching at acute angles.")
    findings = f"necrotic tissue invaded by {hyphae}, which stain black with Grocott methenamine silver and are PAS positive"
    impression = f"{name}; culture for species identification"
    reason = f"The morphology of the hyphae, {hyphae}, fits {name.split(' ', 1)[1]}, as the conclusion states."
    if err == MISID:
        impression = f"invasive {wrong}"
        reason = why
    elif err == STAIN:
        impression = "necrosis; Grocott and PAS stains negative for fungi"
        reason = ("Hyphae that stain black with Grocott silver and positive with PAS are fungi, so calling the "
                  "stains negative misreads them.")
    return Draft(history, site, findings, impression, reason)


_MARSH = {"1": "raised intraepithelial lymphocytes with normal villi and crypts",
          "2": "raised intraepithelial lymphocytes and crypt hyperplasia with normal villi",
          "3a": "raised intraepithelial lymphocytes, crypt hyperplasia and partial villous atrophy",
          "3b": "raised intraepithelial lymphocytes, crypt hyperplasia and subtotal villous atrophy",
          "3c": "raised intraepithelial lymphocytes, crypt hyperplasia and total villous atrophy"}


@scenario("histopathology", {STAGE: "moderate", RANGE: "moderate"}, ages=(18, 70))
def coeliac_marsh(r: Random, pt: Patient, err: str | None) -> Draft:
    kind = r.choice(list(_MARSH))
    iels = r.choice([35, 40, 45, 50, 60])
    history = r.choice(["iron deficiency anaemia and positive tissue transglutaminase antibodies",
                        "diarrhoea, bloating and weight loss"])
    findings = f"{_MARSH[kind]}; {iels} intraepithelial lymphocytes per 100 enterocytes"
    normal = r.random() < 0.5
    impression = (f"Marsh {kind} pattern, consistent with coeliac disease in the right serological setting"
                  f"{' (intraepithelial lymphocytes raised above 25 per 100 enterocytes)' if normal else ''}")
    reason = f"{_MARSH[kind].capitalize()} is Marsh {kind}, as the conclusion states."
    if err == STAGE:
        wrong = r.choice([k for k in _MARSH if k != kind])
        impression = impression.replace(f"Marsh {kind}", f"Marsh {wrong}")
        reason = f"{_MARSH[kind].capitalize()} is Marsh {kind}, not Marsh {wrong}."
    elif err == RANGE:
        impression = (f"intraepithelial lymphocytes within normal limits (normal up to {iels + 20} per 100 "
                      "enterocytes); no evidence of coeliac disease")
        reason = (f"Duodenal intraepithelial lymphocytes are normally fewer than about 25 per 100 enterocytes, so "
                  f"{iels} is raised and the stated normal range is wrong.")
    return Draft(history, "Duodenal biopsies (D2 and bulb)", findings, impression, reason)


@scenario("histopathology", {PATIENT: "high", MISID: "moderate", STAIN: "moderate"}, ages=(20, 45),
          sexes=("male",), flip_sex=True)
def seminoma(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    size = r.choice([18, 25, 32, 40])
    history = r.choice([f"a painless {side} testicular lump", "a solid testicular mass on ultrasound"])
    findings = (f"a {size} mm tumour of sheets of large cells with clear cytoplasm and central nuclei, divided by "
                "fibrous septa containing lymphocytes; the cells are OCT3/4 and CD117 positive")
    impression = "classical seminoma confined to the testis"
    reason = ("Sheets of clear cells with lymphocyte-rich septa that are OCT3/4 and CD117 positive are classical "
              "seminoma.")
    if err == PATIENT:
        reason = (f"A radical orchidectomy does not fit a patient recorded as {pt.person}, so the request or the "
                  "specimen belongs to someone else.")
    elif err == MISID:
        impression = "yolk sac tumour"
        reason = ("Sheets of clear cells with lymphocytic septa are seminoma, whereas yolk sac tumour shows "
                  "reticular patterns and Schiller-Duval bodies.")
    elif err == STAIN:
        impression = "OCT3/4 negative; not a germ cell tumour; lymphoma favoured"
        reason = ("The tumour cells are described as OCT3/4 and CD117 positive, markers of seminoma, so the "
                  "conclusion misreads the stains.")
    return Draft(history, f"{side.capitalize()} radical orchidectomy", findings, impression, reason)


@scenario("histopathology", {MISSED: "high", CONTRA: "moderate"}, ages=(45, 85))
def malignant_polyp(r: Random, pt: Patient, err: str | None) -> Draft:
    size = r.choice([12, 15, 18, 22])
    site = r.choice(["sigmoid", "descending colon", "rectum", "transverse colon"])
    invasive = err is not None or r.random() < 0.5
    history = r.choice(["a polyp found at bowel screening colonoscopy", "rectal bleeding"])
    if invasive:
        findings = (f"a {size} mm tubulovillous adenoma with high-grade dysplasia and a focus of adenocarcinoma "
                    "invading the submucosa of the stalk")
        impression = ("adenocarcinoma arising in a tubulovillous adenoma, invading the submucosa (pT1); "
                      "multidisciplinary review recommended")
        reason = "Carcinoma invading the submucosa is invasive (pT1), and the conclusion reports it as such."
    else:
        findings = f"a {size} mm tubular adenoma with low-grade dysplasia, completely excised"
        impression = "tubular adenoma with low-grade dysplasia; no malignancy"
        reason = "A tubular adenoma with only low-grade dysplasia and no invasion is correctly reported as benign."
    if err == MISSED:
        impression = "tubulovillous adenoma with high-grade dysplasia; no invasive malignancy"
        reason = ("The microscopy describes adenocarcinoma invading the submucosa, a pT1 cancer, which the "
                  "conclusion misses.")
    elif err == CONTRA:
        impression = "hyperplastic polyp; no dysplasia"
        reason = ("The microscopy describes an adenoma with dysplasia and invasive carcinoma, which contradicts a "
                  "conclusion of a hyperplastic polyp without dysplasia.")
    return Draft(history, f"Polypectomy from the {site}", findings, impression, reason)


# ============================================================================================================
# MRI
# ============================================================================================================


@scenario("mri", {LATERALITY: "high", UNIT: "low", TECHNIQUE: "low", MISSED: "high"}, ages=(40, 85))
def glioblastoma(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    lobe = r.choice(["frontal", "temporal", "parietal"])
    size = r.choice([3.5, 4, 4.5, 5, 5.5])
    shift = r.choice([4, 6, 7, 9, 11])
    history = r.choice(["new seizures", "progressive headaches and confusion", "personality change over two months"])
    findings = (f"a {num(size)} cm {side} {lobe} mass with thick irregular rim enhancement on post-gadolinium "
                f"T1-weighted images and central necrosis, surrounded by T2/FLAIR hyperintense oedema; midline shift "
                f"of {shift} mm to the {other(side)}")
    impression = (f"{side} {lobe} ring-enhancing necrotic mass, most likely high-grade glioma, with {shift} mm "
                  "midline shift; urgent neurosurgical referral")
    reason = (f"A {side} {lobe} rim-enhancing necrotic mass with oedema and midline shift is reported on the same "
              "side with appropriate urgency.")
    if err == LATERALITY:
        impression = impression.replace(f"{side} {lobe}", f"{other(side)} {lobe}")
        reason = (f"The mass is in the {side} {lobe} lobe but the impression places it on the {other(side)}, a "
                  "laterality mismatch.")
    elif err == UNIT:
        impression = impression.replace(f"{shift} mm midline", f"{shift} cm midline")
        reason = (f"The midline shift is {shift} mm in the findings but {shift} cm in the impression, a unit "
                  "inconsistency.")
    elif err == TECHNIQUE:
        findings = findings.replace("on post-gadolinium T1-weighted images", "on the unenhanced FLAIR images")
        reason = ("Enhancement can only be judged on images taken after contrast, usually post-gadolinium "
                  "T1-weighted images, not on unenhanced FLAIR.")
    elif err == MISSED:
        impression = r.choice(["no acute intracranial abnormality", "small vessel changes only"])
        reason = (f"A necrotic enhancing mass with {shift} mm midline shift needs urgent referral, yet the "
                  "impression reports no significant abnormality.")
    return Draft(history, "MRI brain with and without gadolinium", findings, impression, reason)


_SIGNAL = [
    # sequence, correct claim, wrong claim
    ("T1-weighted", "cerebrospinal fluid is dark and white matter brighter than grey matter",
     "cerebrospinal fluid is bright", "CSF is dark on T1-weighted images and bright on T2-weighted images"),
    ("T2-weighted", "cerebrospinal fluid is bright and white matter darker than grey matter",
     "cerebrospinal fluid is dark", "CSF is bright on T2-weighted images and dark on T1-weighted images"),
    ("FLAIR", "the cerebrospinal fluid signal is suppressed and dark",
     "cerebrospinal fluid is bright", "FLAIR suppresses the CSF signal, so CSF is dark on FLAIR"),
]


@scenario("mri", {TECHNIQUE: "low", CONTRA: "moderate", PATIENT: "low"}, ages=(18, 60))
def normal_brain(r: Random, pt: Patient, err: str | None) -> Draft:
    seq, right, wrong, why = r.choice(_SIGNAL)
    history = r.choice(["chronic daily headaches", "a single episode of dizziness", "migraine with aura"])
    volume = ("brain volume appropriate for age" if err != PATIENT else
              "generalised volume loss with widened sulci, in keeping with a person in their late eighties")
    findings = (f"on {seq} images {wrong if err == TECHNIQUE else right}; no focal parenchymal signal abnormality; "
                f"the ventricles and sulci are normal; {volume}")
    impression = "normal MRI brain"
    reason = "The signal of CSF on each sequence is described correctly and the brain is normal, as reported."
    if err == TECHNIQUE:
        reason = f"The signal claim is wrong: {why}."
    elif err == CONTRA:
        finding = r.choice(["multiple enhancing metastases", "an acute infarct", "a left frontal meningioma"])
        impression = finding
        reason = f"The findings describe a normal brain with no focal abnormality, which contradicts an impression of {finding}."
    elif err == PATIENT:
        reason = (f"Volume loss described as expected for a person in their late eighties does not fit a "
                  f"{pt.age}-year-old, so the text may belong to another patient.")
    return Draft(history, "MRI brain without contrast", findings, impression, reason)


@scenario("mri", {ANATOMY: "moderate", LATERALITY: "moderate", MISID: "moderate"}, ages=(18, 65))
def meniscal_tear(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    men = r.choice(["medial", "lateral"])
    horn = r.choice(["posterior horn", "anterior horn", "body"])
    history = r.choice([f"{side} knee locking and joint line pain after a twisting injury",
                        f"{side} knee pain and swelling after squatting"])
    if err == MISID:
        signal = (f"globular increased signal within the {horn} of the {men} meniscus that does not reach an "
                  "articular surface on any image")
    else:
        signal = (f"linear increased signal in the {horn} of the {men} meniscus that reaches the inferior articular "
                  "surface on two consecutive images")
    findings = f"{signal}; the cruciate and collateral ligaments are intact; small joint effusion"
    impression = f"tear of the {horn} of the {men} meniscus of the {side} knee"
    reason = ("Signal reaching an articular surface on two consecutive images indicates a meniscal tear, in the "
              "place the impression names.")
    if err == ANATOMY:
        wrong_men = "lateral" if men == "medial" else "medial"
        impression = f"tear of the {horn} of the {wrong_men} meniscus of the {side} knee"
        reason = f"The tear is described in the {men} meniscus but the impression names the {wrong_men} meniscus."
    elif err == LATERALITY:
        impression = impression.replace(f"{side} knee", f"{other(side)} knee")
        reason = (f"The examination is of the {side} knee but the impression names the {other(side)}, a laterality "
                  "mismatch.")
    elif err == MISID:
        reason = ("Intrameniscal signal that does not reach an articular surface is degeneration, not a tear, so "
                  "the impression misidentifies it.")
    return Draft(history, f"MRI of the {side} knee", findings, impression, reason)


@scenario("mri", {MISSED: "high", ANATOMY: "high", PATIENT: "moderate", CONTRA: "high"}, ages=(50, 85))
def cord_compression(r: Random, pt: Patient, err: str | None) -> Draft:
    level = r.randint(5, 11)
    if err == PATIENT:  # a cancer of an organ the patient does not have
        cancer = "prostate" if pt.sex == "female" else "cervical"
    else:
        cancer = r.choice(["breast", "lung", "renal"] + (["prostate"] if pt.sex == "male" else []))
    history = f"known metastatic {cancer} cancer with new back pain and leg weakness"
    findings = (f"the T{level} vertebral body is collapsed and replaced by low T1 signal tumour, with an epidural "
                f"soft tissue mass compressing the spinal cord, which shows high T2 signal at T{level}")
    impression = (f"metastatic spinal cord compression at T{level}; urgent oncology and spinal surgical "
                  "referral")
    reason = (f"An epidural tumour compressing the cord at T{level} in a patient with leg weakness is metastatic "
              "cord compression, correctly flagged as urgent.")
    if err == MISSED:
        impression = r.choice(["degenerative thoracic spondylosis; routine follow-up",
                               f"old T{level} osteoporotic fracture; no acute abnormality"])
        reason = ("Tumour in the epidural space compressing the cord with signal change is an emergency, yet the "
                  "impression reports degenerative or old changes.")
    elif err == ANATOMY:
        wrong = level + r.choice([-3, -2, 2, 3])
        impression = impression.replace(f"T{level}", f"T{wrong}")
        reason = (f"The compression is described at T{level} but the impression names T{wrong}, the wrong level, "
                  "which could misdirect radiotherapy or surgery.")
    elif err == PATIENT:
        reason = (f"{cancer.capitalize()} cancer does not fit a patient recorded as {pt.person}, so the history "
                  "may belong to another patient.")
    elif err == CONTRA:
        impression = f"T{level} metastasis without spinal cord compression"
        reason = ("The findings describe an epidural mass compressing the cord with signal change, which "
                  "contradicts an impression of no cord compression.")
    return Draft(history, "MRI whole spine", findings, impression, reason)


@scenario("mri", {UNIT: "low", LATERALITY: "moderate", ANATOMY: "moderate", CONTRA: "moderate"}, ages=(25, 65))
def achilles_rupture(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    above = r.choice([3, 4, 5, 6])
    gap = r.choice([1.5, 2, 2.5, 3, 3.5])
    history = r.choice([f"a sudden pop in the {side} calf while playing squash",
                        f"inability to push off on the {side} foot after sprinting"])
    findings = (f"full-thickness discontinuity of the {side} Achilles tendon {above} cm above its calcaneal "
                f"insertion, with a {num(gap)} cm fluid-filled gap between the retracted ends")
    impression = f"complete rupture of the {side} Achilles tendon with a {num(gap)} cm gap"
    reason = "Full-thickness discontinuity with a gap is a complete rupture, reported on the same side and size."
    if err == UNIT:
        impression = impression.replace(f"{num(gap)} cm gap", f"{num(gap)} mm gap")
        reason = (f"The gap is {num(gap)} cm in the findings but {num(gap)} mm in the impression, a unit "
                  "inconsistency that matters for choosing treatment.")
    elif err == LATERALITY:
        impression = impression.replace(side, other(side))
        reason = (f"The rupture is in the {side} Achilles tendon but the impression names the {other(side)}, a "
                  "laterality mismatch.")
    elif err == ANATOMY:
        impression = f"complete rupture of the {side} tibialis posterior tendon"
        reason = ("The findings describe the Achilles tendon above its calcaneal insertion, so naming the tibialis "
                  "posterior tendon is the wrong structure.")
    elif err == CONTRA:
        impression = f"{side} Achilles tendinopathy; the tendon is intact"
        reason = ("A full-thickness discontinuity with a gap is a rupture, which contradicts an impression of an "
                  "intact tendon.")
    return Draft(history, f"MRI of the {side} ankle", findings, impression, reason)


@scenario("mri", {STAGE: "moderate", PATIENT: "high", UNIT: "low", LATERALITY: "moderate"}, ages=(50, 80),
          sexes=("male",), flip_sex=True)
def prostate_pirads(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    size = r.choice([8, 10, 12, 14, 16, 18, 22])
    score = 5 if size >= 15 else 4
    psa = r.choice([6.5, 7.8, 9.2, 11])
    history = f"a PSA of {num(psa)} ng/mL"
    findings = (f"a {size} mm focal lesion in the {side} posterolateral peripheral zone, markedly hypointense on "
                "the ADC map and markedly hyperintense on high b-value diffusion-weighted images, with early "
                "enhancement; no extraprostatic extension")
    impression = f"{size} mm {side} peripheral zone lesion, PI-RADS {score}; targeted biopsy recommended"
    reason = (f"A focal markedly restricting peripheral zone lesion {'of 15 mm or more' if score == 5 else 'under 15 mm'} "
              f"is PI-RADS {score}, on the same side as described.")
    if err == STAGE:
        wrong = r.choice([2, 3])
        impression = f"{size} mm {side} peripheral zone lesion, PI-RADS {wrong}; routine PSA monitoring"
        reason = (f"A focal markedly diffusion-restricting peripheral zone lesion of {size} mm is PI-RADS {score}, "
                  f"not PI-RADS {wrong}.")
    elif err == PATIENT:
        reason = (f"A prostate MRI does not fit a patient recorded as {pt.person}, so the request or the report "
                  "belongs to someone else.")
    elif err == UNIT:
        impression = impression.replace(f"{size} mm", f"{size} cm")
        reason = (f"The lesion measures {size} mm in the findings but {size} cm in the impression, larger than the "
                  "prostate itself.")
    elif err == LATERALITY:
        impression = impression.replace(f"{side} peripheral", f"{other(side)} peripheral")
        reason = (f"The lesion lies in the {side} peripheral zone but the impression places it on the {other(side)}, "
                  "which would misdirect the targeted biopsy.")
    return Draft(history, "Multiparametric MRI of the prostate", findings, impression, reason)


@scenario("mri", {PATIENT: "high", MISID: "moderate", UNIT: "low", TECHNIQUE: "low"}, ages=(30, 55),
          sexes=("female",), flip_sex=True)
def uterine_fibroid(r: Random, pt: Patient, err: str | None) -> Draft:
    size = r.choice([3, 4, 5, 6, 7, 8])
    where = r.choice(["intramural", "subserosal", "submucosal"])
    history = r.choice(["heavy menstrual bleeding", "pelvic pressure and urinary frequency", "an enlarged uterus "
                        "on examination"])
    findings = (f"a {size} cm well-circumscribed {where} mass in the uterine body, homogeneously T2 hypointense "
                "relative to the myometrium, with enhancement; the junctional zone is not thickened")
    impression = f"{size} cm {where} uterine leiomyoma (fibroid)"
    reason = ("A well-circumscribed T2-dark uterine mass with a normal junctional zone is typical of a leiomyoma, "
              "as reported.")
    if err == PATIENT:
        reason = (f"A uterine fibroid cannot be reported in a patient recorded as {pt.person}, so the report "
                  "belongs to someone else or the sex is wrong.")
    elif err == MISID:
        impression = "diffuse adenomyosis"
        reason = ("A well-circumscribed T2-dark mass with a normal junctional zone is a leiomyoma, whereas "
                  "adenomyosis thickens the junctional zone diffusely without a defined mass.")
    elif err == UNIT:
        impression = impression.replace(f"{size} cm", f"{size} mm")
        reason = (f"The fibroid measures {size} cm in the findings but {size} mm in the impression, a unit "
                  "inconsistency.")
    elif err == TECHNIQUE:
        findings = findings.replace("homogeneously T2 hypointense", "homogeneously T2 hyperintense")
        impression += ", confirmed by its typical bright T2 signal"
        reason = ("A typical leiomyoma is dark on T2-weighted images, so bright T2 signal is not the typical "
                  "feature the impression claims.")
    return Draft(history, "MRI pelvis", findings, impression, reason)


@scenario("mri", {LATERALITY: "moderate", MISID: "moderate", UNIT: "low"}, ages=(30, 75))
def vestibular_schwannoma(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    size = r.choice([6, 9, 12, 15, 18])
    history = r.choice([f"progressive {side} sensorineural hearing loss and tinnitus",
                        f"asymmetric hearing loss, worse on the {side}"])
    findings = (f"a {size} mm enhancing mass in the {side} internal acoustic canal extending into the "
                f"cerebellopontine angle, giving an ice-cream-cone shape, without a dural tail")
    impression = f"{side} vestibular schwannoma, {size} mm"
    reason = (f"An enhancing mass widening the {side} internal acoustic canal with an ice-cream-cone shape is a "
              "vestibular schwannoma on the side of the hearing loss.")
    if err == LATERALITY:
        impression = impression.replace(side, other(side))
        reason = (f"The mass is in the {side} internal acoustic canal, matching the {side} hearing loss, but the "
                  f"impression names the {other(side)}.")
    elif err == MISID:
        impression = f"{side} cerebellopontine angle meningioma"
        reason = ("A mass extending into the internal acoustic canal in an ice-cream-cone shape without a dural "
                  "tail is a vestibular schwannoma, whereas a meningioma has a broad dural base and often a tail.")
    elif err == UNIT:
        impression = impression.replace(f"{size} mm", f"{size} cm")
        reason = (f"The mass is {size} mm in the findings but {size} cm in the impression, a unit inconsistency.")
    return Draft(history, "MRI internal acoustic meati with gadolinium", findings, impression, reason)


@scenario("mri", {LATERALITY: "high", CONTRA: "high", ANATOMY: "moderate"}, ages=(50, 90))
def occipital_infarct(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    history = f"sudden loss of the {other(side)} half of the visual field in both eyes"
    findings = (f"restricted diffusion in the {side} occipital lobe and medial {side} thalamus, in the {side} "
                "posterior cerebral artery territory; no haemorrhage")
    impression = f"acute infarct in the {side} posterior cerebral artery territory"
    reason = (f"A {side} occipital infarct explains a {other(side)} homonymous field loss, and the impression names "
              "the same side and territory.")
    if err == LATERALITY:
        impression = impression.replace(f"{side} posterior", f"{other(side)} posterior")
        reason = (f"The infarct is in the {side} occipital lobe, which fits the {other(side)} field loss, but the "
                  f"impression places it on the {other(side)}.")
    elif err == CONTRA:
        impression = "no acute infarct"
        reason = ("Restricted diffusion in a vascular territory is an acute infarct, which contradicts an "
                  "impression of no acute infarct.")
    elif err == ANATOMY:
        impression = f"acute infarct in the {side} anterior cerebral artery territory"
        reason = ("The occipital lobe and thalamus are supplied by the posterior cerebral artery, not the anterior "
                  "cerebral artery.")
    return Draft(history, "MRI brain with diffusion-weighted imaging", findings, impression, reason)


# ============================================================================================================
# Ultrasound
# ============================================================================================================


@scenario("ultrasound", {RANGE: "moderate", CONTRA: "high", UNIT: "low"}, ages=(25, 80))
def acute_cholecystitis(r: Random, pt: Patient, err: str | None) -> Draft:
    wall = r.choice([5, 6, 7, 8])
    history = r.choice(["constant right upper quadrant pain, fever and a raised white cell count",
                        "right upper quadrant pain for two days with vomiting"])
    findings = (f"multiple mobile shadowing gallstones, one impacted in the gallbladder neck; the gallbladder wall "
                f"is thickened to {wall} mm with pericholecystic fluid; sonographic Murphy sign is positive")
    normal = r.random() < 0.5
    impression = (f"acute calculous cholecystitis{' (wall thickness above the normal 3 mm)' if normal else ''}")
    reason = ("Gallstones with a thickened wall, pericholecystic fluid and a positive sonographic Murphy sign "
              "indicate acute cholecystitis, as reported.")
    if err == RANGE:
        impression = (f"gallstones; gallbladder wall {wall} mm, within normal limits (normal up to 10 mm); no "
                      "cholecystitis")
        reason = (f"The gallbladder wall is normally no more than about 3 mm, so {wall} mm is thickened and the "
                  "stated normal range is wrong.")
    elif err == CONTRA:
        impression = "cholelithiasis without sonographic features of acute cholecystitis"
        reason = ("A thickened wall, pericholecystic fluid and a positive Murphy sign are features of acute "
                  "cholecystitis, which the impression denies.")
    elif err == UNIT:
        impression = f"acute calculous cholecystitis with the gallbladder wall thickened to {wall} cm"
        reason = f"The wall measures {wall} mm in the findings but {wall} cm in the impression, a unit inconsistency."
    return Draft(history, "Abdominal ultrasound", findings, impression, reason)


@scenario("ultrasound", {LATERALITY: "moderate", UNIT: "low", TECHNIQUE: "low"}, ages=(20, 75))
def obstructing_stone(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    size = r.choice([5, 6, 7, 8, 9, 11])
    history = f"{side} loin-to-groin pain and microscopic haematuria"
    shadow = "posterior acoustic enhancement" if err == TECHNIQUE else "posterior acoustic shadowing"
    findings = (f"moderate dilatation of the {side} renal pelvis and calyces down to a {size} mm echogenic focus "
                f"with {shadow} at the {side} pelviureteric junction; the {other(side)} kidney is normal")
    impression = f"{side} hydronephrosis due to a {size} mm calculus at the pelviureteric junction"
    if r.random() < 0.4 and err != TECHNIQUE:
        impression += ", confirmed by its posterior acoustic shadowing"
    reason = (f"A shadowing echogenic focus at the {side} pelviureteric junction with dilatation above it is an "
              "obstructing stone, reported on the same side and size.")
    if err == LATERALITY:
        impression = impression.replace(side, other(side))
        reason = (f"The dilated system and stone are on the {side} but the impression names the {other(side)} "
                  "kidney, a laterality mismatch.")
    elif err == UNIT:
        impression = impression.replace(f"{size} mm", f"{size} cm")
        reason = (f"The stone measures {size} mm in the findings but {size} cm in the impression, a unit "
                  "inconsistency.")
    elif err == TECHNIQUE:
        impression += ", confirmed by the posterior acoustic enhancement behind it"
        reason = ("Renal stones cast posterior acoustic shadowing, whereas posterior acoustic enhancement is "
                  "a feature of fluid-filled structures.")
    return Draft(history, "Renal tract ultrasound", findings, impression, reason)


@scenario("ultrasound", {LATERALITY: "high", MISSED: "high", MISID: "high"}, ages=(18, 42), sexes=("female",))
def ectopic_pregnancy(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    weeks = r.choice([6, 7, 8])
    history = (f"{side} iliac fossa pain and vaginal spotting at {weeks} weeks by dates, with a positive "
               "pregnancy test")
    findings = (f"no intrauterine gestational sac; a {r.choice([18, 22, 25])} mm echogenic ring-like adnexal mass on "
                f"the {side}, separate from the {side} ovary and moving separately from it, with free fluid in the "
                "pouch of Douglas")
    impression = f"{side} tubal ectopic pregnancy with free fluid; urgent gynaecological review"
    reason = (f"An empty uterus with a {side} adnexal ring separate from the ovary and free fluid in a pregnant "
              "patient indicates a tubal ectopic pregnancy, correctly flagged as urgent.")
    if err == LATERALITY:
        impression = impression.replace(side, other(side))
        reason = (f"The adnexal mass and pain are on the {side} but the impression names the {other(side)} side, "
                  "a laterality mismatch.")
    elif err == MISSED:
        impression = r.choice(["no intrauterine pregnancy seen; rescan in two weeks",
                               "early pregnancy of unknown location; no acute findings"])
        reason = ("An empty uterus with an adnexal mass separate from the ovary and free fluid is a probable "
                  "ectopic pregnancy needing urgent review, which the impression misses.")
    elif err == MISID:
        impression = f"{side} corpus luteum cyst; no ectopic pregnancy"
        reason = ("A corpus luteum lies within the ovary, whereas a ring-like mass separate from and moving apart "
                  "from the ovary is a tubal ectopic pregnancy.")
    return Draft(history, "Transvaginal ultrasound", findings, impression, reason)


@scenario("ultrasound", {STAGE: "moderate", UNIT: "low", LATERALITY: "low"}, ages=(25, 80))
def thyroid_tirads(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    size = r.choice([9, 12, 16, 21, 28])
    suspicious = r.random() < 0.5
    history = r.choice(["a palpable neck lump", "a thyroid nodule found on a CT scan"])
    if suspicious:
        desc = ("solid, markedly hypoechoic, taller than wide, with irregular margins and punctate echogenic "
                "foci")
        cat, advice = "TR5", "fine-needle aspiration recommended" if size >= 10 else "follow-up ultrasound"
        why = "a solid, markedly hypoechoic, taller-than-wide nodule with irregular margins and punctate echogenic foci"
    else:
        desc = "spongiform, made of many small cystic spaces, with smooth margins"
        cat, advice = "TR1", "benign; no fine-needle aspiration needed"
        why = "a spongiform nodule"
    findings = f"a {size} mm nodule in the {side} lobe, {desc}"
    impression = f"{size} mm {side} thyroid nodule, ACR TI-RADS {cat}; {advice}"
    reason = f"In ACR TI-RADS, {why} is {cat}, as reported."
    if err == STAGE:
        wrong = "TR2" if suspicious else "TR5"
        impression = f"{size} mm {side} thyroid nodule, ACR TI-RADS {wrong}"
        reason = f"In ACR TI-RADS, {why} is {cat}, not {wrong}."
    elif err == UNIT:
        impression = impression.replace(f"{size} mm", f"{size} cm", 1)
        reason = (f"The nodule measures {size} mm in the findings but {size} cm in the impression, a unit "
                  "inconsistency that changes whether it needs aspiration.")
    elif err == LATERALITY:
        impression = impression.replace(f"{side} thyroid", f"{other(side)} thyroid")
        reason = (f"The nodule is in the {side} lobe but the impression places it on the {other(side)}, which "
                  "could misdirect the aspiration.")
    return Draft(history, "Thyroid ultrasound", findings, impression, reason)


@scenario("ultrasound", {STAGE: "high", LATERALITY: "moderate", UNIT: "low"}, ages=(25, 80), sexes=("female",))
def breast_birads(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    clock = r.choice([1, 2, 3, 9, 10, 11, 12])
    size = r.choice([8, 11, 14, 17, 22])
    suspicious = pt.age >= 35 and r.random() < 0.6
    history = r.choice([f"a {side} breast lump", "an abnormality on screening mammography"])
    if suspicious:
        desc = ("irregular, hypoechoic, not parallel to the skin, with spiculated margins and posterior acoustic "
                "shadowing")
        cat, advice = "BI-RADS 5", "highly suggestive of malignancy; core biopsy"
        why = "An irregular, non-parallel, spiculated mass with shadowing is highly suspicious, BI-RADS 5"
    else:
        desc = "oval, parallel to the skin, circumscribed and homogeneously hypoechoic"
        cat, advice = "BI-RADS 3", "probably benign, likely fibroadenoma; short-interval follow-up"
        why = "An oval, parallel, circumscribed mass is probably benign, BI-RADS 3"
    findings = f"a {size} mm mass at {clock} o'clock in the {side} breast, {desc}"
    impression = f"{size} mm {side} breast mass, {cat}: {advice}"
    reason = f"{why}, as reported on the same side."
    if err == STAGE:
        wrong = "BI-RADS 2: benign; routine screening" if suspicious else "BI-RADS 5: highly suggestive of malignancy"
        impression = f"{size} mm {side} breast mass, {wrong}"
        reason = f"{why}, not {wrong.split(':')[0]}."
    elif err == LATERALITY:
        impression = impression.replace(f"{side} breast", f"{other(side)} breast")
        reason = (f"The mass is in the {side} breast but the impression names the {other(side)}, which could "
                  "misdirect the biopsy.")
    elif err == UNIT:
        impression = impression.replace(f"{size} mm", f"{size} cm")
        reason = f"The mass is {size} mm in the findings but {size} cm in the impression, a unit inconsistency."
    return Draft(history, f"{side.capitalize()} breast ultrasound", findings, impression, reason)


@scenario("ultrasound", {TECHNIQUE: "low", CONTRA: "moderate", PATIENT: "low"}, ages=(30, 75))
def fatty_liver(r: Random, pt: Patient, err: str | None) -> Draft:
    history = r.choice(["mildly raised ALT with obesity and type 2 diabetes", "abnormal liver tests"])
    echo = ("the liver is diffusely hypoechoic, darker than the right renal cortex" if err == TECHNIQUE else
            "the liver is diffusely hyperechoic, brighter than the right renal cortex")
    organ = ("the prostate" if pt.sex == "female" else "the uterus") if err == PATIENT else (
        "the uterus" if pt.sex == "female" else "the prostate")
    extra = f"; incidentally, {organ} appears normal on the pelvic views"
    findings = (f"{echo}, with posterior beam attenuation and poor visualisation of the portal vein walls; "
                f"smooth liver surface; normal spleen{extra}")
    impression = "diffuse hepatic steatosis (fatty liver)"
    reason = ("A liver brighter than the renal cortex with beam attenuation is hepatic steatosis, as reported, "
              "and the pelvic remark fits the patient.")
    if err == TECHNIQUE:
        impression += ", shown by the liver being darker than the kidney"
        reason = ("Fatty infiltration makes the liver brighter (hyperechoic) than the renal cortex, not darker, "
                  "so the sign claimed is wrong.")
    elif err == CONTRA:
        impression = "normal liver echotexture"
        reason = ("A liver brighter than the renal cortex with beam attenuation is steatosis, which contradicts an "
                  "impression of normal echotexture.")
    elif err == PATIENT:
        reason = (f"{organ.capitalize()} cannot be seen in a patient recorded as {pt.person}, so part of the report "
                  "belongs to another patient.")
    return Draft(history, "Abdominal ultrasound", findings, impression, reason)


@scenario("ultrasound", {RANGE: "moderate", UNIT: "low", CONTRA: "moderate"}, ages=(20, 80))
def splenomegaly(r: Random, pt: Patient, err: str | None) -> Draft:
    length = r.choice([15, 16, 17, 18, 19, 21])
    history = r.choice(["a raised white cell count and left upper quadrant fullness", "fatigue and night sweats",
                        "known cirrhosis with low platelets"])
    findings = f"the spleen measures {length} cm in length with homogeneous echotexture and no focal lesion"
    normal = r.random() < 0.5
    impression = f"splenomegaly{' (normal length up to about 12 cm)' if normal else ''}"
    reason = f"A spleen {length} cm long is enlarged, since the normal length is up to about 12 cm."
    if err == RANGE:
        impression = f"spleen size within normal limits (normal up to {length + 4} cm)"
        reason = (f"The normal adult spleen is up to about 12 cm long, so {length} cm is enlarged and the stated "
                  "normal range is wrong.")
    elif err == UNIT:
        impression = f"splenomegaly, {length} mm in length"
        reason = f"The spleen is {length} cm in the findings but {length} mm in the impression, a unit inconsistency."
    elif err == CONTRA:
        impression = "normal-sized spleen"
        reason = f"A spleen {length} cm long is enlarged, which contradicts an impression of normal size."
    return Draft(history, "Abdominal ultrasound", findings, impression, reason)


@scenario("ultrasound", {PATIENT: "high", LATERALITY: "moderate", MISID: "moderate"}, ages=(20, 45),
          sexes=("female",), flip_sex=True)
def endometrioma(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    size = r.choice([3, 4, 5, 6])
    history = r.choice(["cyclical pelvic pain and painful periods", "subfertility and dysmenorrhoea"])
    findings = (f"a {size} cm unilocular cyst in the {side} ovary filled with homogeneous low-level "
                "('ground-glass') echoes, with no solid component and no internal colour Doppler flow")
    impression = f"{side} ovarian endometrioma, {size} cm"
    reason = ("A unilocular cyst with homogeneous ground-glass echoes and no solid or vascular component is "
              "typical of an endometrioma, on the side described.")
    if err == PATIENT:
        reason = (f"An ovarian cyst cannot be reported in a patient recorded as {pt.person}, so the report or the "
                  "sex belongs to someone else.")
    elif err == LATERALITY:
        impression = impression.replace(side, other(side))
        reason = (f"The cyst is in the {side} ovary but the impression names the {other(side)}, a laterality "
                  "mismatch.")
    elif err == MISID:
        impression = f"{side} simple ovarian cyst"
        reason = ("A simple cyst is anechoic, whereas homogeneous low-level ground-glass echoes are typical of an "
                  "endometrioma.")
    return Draft(history, "Transvaginal pelvic ultrasound", findings, impression, reason)


@scenario("ultrasound", {RANGE: "high", PATIENT: "moderate", UNIT: "low"}, ages=(52, 85), sexes=("female",))
def postmenopausal_endometrium(r: Random, pt: Patient, err: str | None) -> Draft:
    thick = r.choice([7, 8, 9, 11, 13, 16])
    if err == PATIENT:
        pt_age = r.choice([24, 27, 31])
        history = f"postmenopausal bleeding ten years after her menopause, aged {pt_age}"
    else:
        history = r.choice(["postmenopausal bleeding", "a single episode of postmenopausal bleeding"])
    findings = f"the endometrium measures {thick} mm in double-layer thickness; the ovaries are not seen"
    normal = r.random() < 0.5
    impression = (f"thickened endometrium{' (above the 4 mm threshold after the menopause)' if normal else ''}; "
                  "endometrial sampling recommended")
    reason = (f"An endometrium of {thick} mm after the menopause with bleeding is above the 4 mm threshold, so "
              "sampling is rightly advised.")
    if err == RANGE:
        impression = f"endometrial thickness within normal limits for a postmenopausal woman (normal up to {thick + 6} mm)"
        reason = (f"With postmenopausal bleeding an endometrium over 4 mm is abnormal, so {thick} mm needs sampling "
                  "and the stated normal range is wrong.")
    elif err == PATIENT:
        reason = (f"The report is for {pt.a} {pt.noun}, yet the history describes a patient aged {pt_age}, ten "
                  "years past the menopause, so the details belong to different patients.")
    elif err == UNIT:
        impression = f"thickened endometrium of {thick} cm; endometrial sampling recommended"
        reason = f"The endometrium measures {thick} mm in the findings but {thick} cm in the impression, a unit inconsistency."
    return Draft(history, "Transvaginal ultrasound", findings, impression, reason)


@scenario("ultrasound", {RANGE: "high", MISSED: "high", CONTRA: "high"}, ages=(6, 30))
def appendicitis(r: Random, pt: Patient, err: str | None) -> Draft:
    diam = r.choice([8, 9, 10, 11, 12])
    history = r.choice(["central abdominal pain moving to the right iliac fossa with fever",
                        "right iliac fossa pain, anorexia and rebound tenderness"])
    findings = (f"a blind-ending, non-compressible tubular structure in the right iliac fossa measuring {diam} mm "
                "across, with hyperechoic surrounding fat and increased wall vascularity")
    normal = r.random() < 0.5
    impression = f"acute appendicitis{' (appendix wider than the normal 6 mm)' if normal else ''}"
    reason = (f"A non-compressible appendix {diam} mm across with inflamed surrounding fat indicates acute "
              "appendicitis, as reported.")
    if err == RANGE:
        impression = f"appendix diameter within normal limits (normal up to {diam + 4} mm); no appendicitis"
        reason = (f"A normal appendix is no more than 6 mm across and compressible, so a non-compressible {diam} mm "
                  "appendix is abnormal and the stated normal range is wrong.")
    elif err == MISSED:
        impression = r.choice(["no acute abnormality; the appendix is not a concern", "mesenteric adenitis"])
        reason = (f"A non-compressible {diam} mm appendix with inflamed fat is acute appendicitis, which the "
                  "impression misses.")
    elif err == CONTRA:
        impression = "normal compressible appendix"
        reason = ("The findings describe a non-compressible, enlarged appendix, which contradicts an impression of "
                  "a normal compressible appendix.")
    return Draft(history, "Ultrasound of the right iliac fossa", findings, impression, reason)


def _carotid(psv: int) -> str:
    return "70% or more" if psv > 230 else "50-69%" if psv >= 125 else "less than 50%"


@scenario("ultrasound", {LATERALITY: "high", STAGE: "high", UNIT: "low", TECHNIQUE: "low"}, ages=(55, 90))
def carotid_stenosis(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    psv = r.choice([95, 140, 180, 210, 260, 320, 380])
    grade = _carotid(psv)
    history = f"a transient episode of {other(side)} arm weakness"
    angle = 70 if err == TECHNIQUE else r.choice([45, 50, 55, 60])
    findings = (f"heterogeneous plaque at the origin of the {side} internal carotid artery, peak systolic velocity "
                f"{psv} cm/s measured at an angle of insonation of {angle} degrees; the {other(side)} internal "
                "carotid artery is normal")
    impression = f"{side} internal carotid artery stenosis of {grade}"
    reason = (f"A peak systolic velocity of {psv} cm/s corresponds to {grade} stenosis, on the {side} side that "
              "fits the symptoms.")
    if err == LATERALITY:
        impression = impression.replace(side, other(side))
        reason = (f"The plaque and raised velocity are in the {side} internal carotid artery but the impression "
                  f"names the {other(side)}, a laterality mismatch.")
    elif err == STAGE:
        wrong = r.choice([g for g in ("70% or more", "50-69%", "less than 50%") if g != grade])
        impression = impression.replace(grade, wrong)
        reason = (f"A peak systolic velocity of {psv} cm/s indicates {grade} stenosis (over 230 cm/s 70% or more, "
                  f"125-230 cm/s 50-69%), not {wrong}.")
    elif err == UNIT:
        impression += f" (peak systolic velocity {psv} m/s)"
        reason = (f"The velocity is {psv} cm/s in the findings but {psv} m/s in the impression, a unit "
                  "inconsistency and an impossible speed.")
    elif err == TECHNIQUE:
        impression += f"; velocities are most accurate at this {angle}-degree angle"
        reason = ("Doppler velocities become unreliable as the angle of insonation rises above 60 degrees, so a "
                  "70-degree angle is not the most accurate.")
    return Draft(history, "Carotid duplex ultrasound", findings, impression, reason)


@scenario("ultrasound", {MISID: "high", LATERALITY: "moderate", PATIENT: "moderate"}, ages=(16, 45),
          sexes=("male",), flip_sex=True)
def epididymo_orchitis(r: Random, pt: Patient, err: str | None) -> Draft:
    side = r.choice(["left", "right"])
    history = r.choice([f"two days of gradually increasing {side} scrotal pain with dysuria and fever",
                        f"a swollen tender {side} hemiscrotum developing over a day"])
    findings = (f"the {side} epididymis is enlarged and hypoechoic with markedly increased colour Doppler flow; "
                f"the {side} testis is normal in size with preserved flow; small reactive hydrocele")
    impression = f"{side} epididymitis"
    reason = ("An enlarged epididymis with increased flow and a normally perfused testis is epididymitis, on "
              "the side described.")
    if err == MISID:
        impression = f"{side} testicular torsion"
        reason = ("Increased colour Doppler flow with a normally perfused testis points to epididymitis, whereas "
                  "torsion reduces or abolishes testicular flow.")
    elif err == LATERALITY:
        impression = impression.replace(side, other(side))
        reason = (f"The inflamed epididymis is on the {side} but the impression names the {other(side)} side, a "
                  "laterality mismatch.")
    elif err == PATIENT:
        reason = (f"A scrotal ultrasound does not fit a patient recorded as {pt.person}, so the request or the "
                  "report belongs to someone else.")
    return Draft(history, "Scrotal ultrasound", findings, impression, reason)


@scenario("ultrasound", {RANGE: "moderate", CONTRA: "moderate"}, ages=(20, 70))
def normal_kidneys(r: Random, pt: Patient, err: str | None) -> Draft:
    right = r.choice([10.2, 10.6, 11.0, 11.4, 11.8])
    left = round(right + r.choice([-0.3, 0.2, 0.4]), 1)
    history = r.choice(["hypertension", "recurrent urinary tract infections", "a mildly raised creatinine"])
    findings = (f"the right kidney measures {num(right)} cm and the left {num(left)} cm, with normal cortical "
                "thickness and corticomedullary differentiation; no hydronephrosis or stones; the bladder is normal")
    normal = r.random() < 0.5
    impression = f"normal kidneys{' (normal adult length about 10-12 cm)' if normal else ''}"
    reason = ("Kidneys of about 10-12 cm with normal cortex and no hydronephrosis are normal, as reported.")
    if err == RANGE:
        impression = "both kidneys small for an adult (normal length at least 14 cm); chronic kidney disease likely"
        reason = (f"Normal adult kidneys are about 10-12 cm long, so {num(right)} and {num(left)} cm are normal and "
                  "the stated normal range is wrong.")
    elif err == CONTRA:
        impression = "bilateral hydronephrosis"
        reason = "The findings state there is no hydronephrosis, which contradicts an impression of bilateral hydronephrosis."
    return Draft(history, "Renal tract ultrasound", findings, impression, reason)
