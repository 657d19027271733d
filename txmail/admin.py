"""Admin registrations, found by Django's admin autodiscovery."""

from .delivery import admin  # noqa: F401
