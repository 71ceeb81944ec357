from pathlib import Path

from django.db import migrations

POLICY_DIR = Path(__file__).resolve().parent.parent / "policy"


def publish_v1(apps, schema_editor):
    PolicyVersion = apps.get_model("privacy", "PolicyVersion")
    PolicyVersion.objects.get_or_create(
        version="1",
        defaults={
            "published_at": "2026-11-01T00:00:00-04:00",
            "body_fr": (POLICY_DIR / "v1.fr.md").read_text(encoding="utf-8"),
            "body_en": (POLICY_DIR / "v1.en.md").read_text(encoding="utf-8"),
            "summary_fr": "Première version publiée.",
            "summary_en": "First published version.",
        },
    )


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_initial")]
    operations = [migrations.RunPython(publish_v1, migrations.RunPython.noop)]
