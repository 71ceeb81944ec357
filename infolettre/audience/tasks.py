"""Background work of the audience: each task takes ids only and is safe to run twice."""

from django.tasks import task

from .importing import run_import


@task()
def import_contacts(import_id):
    """Import a stored CSV file into its list; run again after a stop, it carries on."""
    run_import(import_id)
