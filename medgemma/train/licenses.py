"""The licenses of the public data sets training may come from (see the shared data README): one table for
the provenance record and the cards."""

from __future__ import annotations

DATA_LICENSES = {
    "pubmedqa": ("PubMedQA", "MIT", "https://github.com/pubmedqa/pubmedqa"),
    "medquad": ("MedQuAD", "CC BY 4.0 (attribution required)", "https://github.com/abachaa/MedQuAD"),
    # Reports written for this project (templates in clinical_templates.py, hand-written ones in
    # data/clinical_errors_train.jsonl): no third-party data, under the project's own license.
    "clinical-errors": ("MedGemma Studio clinical-error reports (written for this project)",
                        "the project's own license (no third-party data)",
                        "medgemma/train/clinical.py"),
}
# The grounded recipe mixes sources: its questions' data sets and the index its distractors come from.
GROUNDED = "those of its question sources (listed below) and of the index its distractors come from"


def license_of(name: str) -> str:
    """The license of the data set a file or recipe `name` names ("" when it names none known)."""
    low = name.lower().replace("_", "-")  # "clinical_errors_train.jsonl" names the clinical-errors set
    if low in ("grounded", "grounded-pairs"):
        return GROUNDED
    return next((f"{lic} ({url})" for key, (_, lic, url) in DATA_LICENSES.items() if key in low), "")
