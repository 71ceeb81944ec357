import pytest

from infolettre.staff.testing import make_staff


@pytest.fixture
def staff(db):
    """One staff member per role, by role."""
    return {
        role: make_staff(role)
        for role in ("support", "billing", "privacy_officer", "administrator")
    }
