"""The privacy app's periodic work; each task is safe to run twice."""

from django.tasks import task

from .retention import apply_retention as apply_retention_now


@task()
def apply_retention():
    """Destroy or anonymise what has outlived its period (daily; a second run finds nothing)."""
    apply_retention_now()
