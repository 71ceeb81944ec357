"""The confidentiality incident register: recorded and edited by the privacy officer, exported."""

import csv
import io
import json

import pytest
from django.urls import NoReverseMatch, reverse

from conftest import PASSWORD
from infolettre.accounts.models import User
from infolettre.privacy.models import ConfidentialityIncident
from infolettre.staff.testing import sign_in_staff

INCIDENT = {
    "title": "=cmd()",
    "data_involved": "Names and addresses of one list",
    "circumstances": "+An export mailed to the wrong client",
    "occurred_on": "2026-03-02",
    "discovered_on": "2026-03-04",
    "people_affected": "120",
    "serious_injury_risk": "no",
    "risk_assessment": "No confidential data; the recipient deleted the file.",
    "regulator_notified_on": "",
    "people_notified_on": "2026-03-06",
    "measures": "Exports now need a second look.",
}


@pytest.fixture
def officer(db):
    return User.objects.create_user(
        "officer@infolettre.example",
        PASSWORD,
        name="Officer",
        title="Privacy officer",
        is_staff=True,
        staff_role="privacy_officer",
    )


def test_officer_records_an_incident_with_every_field_of_the_register(client, officer):
    sign_in_staff(client, officer)
    response = client.post("/equipe/vie-privee/incidents/nouveau/", INCIDENT)
    assert (response.status_code, response.url) == (302, "/equipe/vie-privee/incidents/")
    incident = ConfidentialityIncident.objects.get()
    assert (incident.title, incident.people_affected, incident.serious_injury_risk) == (
        "=cmd()",
        120,
        False,
    )
    assert str(incident.occurred_on) == "2026-03-02"
    assert incident.regulator_notified_on is None
    assert str(incident.people_notified_on) == "2026-03-06"
    assert incident.recorded_by == officer


def test_an_incident_form_with_errors_records_nothing(client, officer):
    sign_in_staff(client, officer)
    bad = {**INCIDENT, "discovered_on": "2026-03-01", "people_affected": "many"}
    assert client.post("/equipe/vie-privee/incidents/nouveau/", bad).status_code == 400
    assert ConfidentialityIncident.objects.count() == 0


def test_officer_edits_an_incident(client, officer):
    sign_in_staff(client, officer)
    client.post("/equipe/vie-privee/incidents/nouveau/", INCIDENT)
    incident = ConfidentialityIncident.objects.get()
    client.post(
        f"/equipe/vie-privee/incidents/{incident.pk}/",
        {**INCIDENT, "regulator_notified_on": "2026-03-07"},
    )
    incident.refresh_from_db()
    assert str(incident.regulator_notified_on) == "2026-03-07"


def test_csv_export_neutralises_formulas(client, officer):
    sign_in_staff(client, officer)
    client.post("/equipe/vie-privee/incidents/nouveau/", INCIDENT)
    response = client.get("/equipe/vie-privee/incidents/registre.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0]["title"] == "'=cmd()"
    assert rows[0]["circumstances"] == "'+An export mailed to the wrong client"
    assert rows[0]["people_affected"] == "120"
    assert rows[0]["serious_injury_risk"] == "false"


def test_json_export_holds_the_register(client, officer):
    sign_in_staff(client, officer)
    client.post("/equipe/vie-privee/incidents/nouveau/", INCIDENT)
    data = json.loads(client.get("/equipe/vie-privee/incidents/registre.json").content)
    entry = data["incidents"][0]
    assert (entry["title"], entry["occurred_on"], entry["people_affected"]) == (
        "=cmd()",
        "2026-03-02",
        120,
    )


def test_the_register_has_no_deletion(client, officer):
    """Entries are kept: there is no route to delete one."""
    for name in ("incident_delete", "delete_incident"):
        with pytest.raises(NoReverseMatch):
            reverse(f"privacy:{name}", args=[1])
    sign_in_staff(client, officer)
    client.post("/equipe/vie-privee/incidents/nouveau/", INCIDENT)
    incident = ConfidentialityIncident.objects.get()
    client.delete(f"/equipe/vie-privee/incidents/{incident.pk}/")
    assert ConfidentialityIncident.objects.count() == 1
