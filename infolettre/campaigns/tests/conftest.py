"""Fixtures shared by the campaigns tests."""

from infolettre.campaigns.tests.counting import counting, redis_counting  # noqa: F401 (fixtures)
