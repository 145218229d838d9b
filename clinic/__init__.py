"""The Django project package and the app that owns clinics, staff and tenancy."""

from clinic.celery import app as celery_app

__all__ = ["celery_app"]
