from datetime import datetime

from ninja import Router, Schema

from .declaration import declared_models
from .purposes import PURPOSES
from .queries import current_policy

router = Router(tags=["privacy"])


class PolicyOut(Schema):
    version: str
    published_at: datetime
    body_fr: str
    body_en: str


class PurposeOut(Schema):
    code: str
    label: str
    description: str
    needs_consent: bool


class DeclaredFieldOut(Schema):
    model: str
    field: str
    subject: str
    category: str
    purposes: list[str]
    retention: str
    confidential: bool


@router.get("/policy", response=PolicyOut)
def policy(request):
    """The privacy policy in force."""
    return current_policy()


@router.get("/purposes", response=list[PurposeOut])
def purposes(request):
    return [
        {
            "code": p.code,
            "label": str(p.label),
            "description": str(p.description),
            "needs_consent": p.needs_consent,
        }
        for p in PURPOSES.values()
    ]


@router.get("/declaration", response=list[DeclaredFieldOut])
def declaration(request):
    """Every personal field the system holds, with its purposes, retention and confidentiality."""
    return [
        {
            "model": entry.model,
            "field": f.name,
            "subject": entry.subject,
            "category": f.category.code,
            "purposes": list(f.purposes),
            "retention": str(f.retention.label),
            "confidential": f.confidential,
        }
        for entry in declared_models()
        for f in entry.fields
    ]
