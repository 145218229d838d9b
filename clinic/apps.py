from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinics and staff"

    def ready(self) -> None:
        from clinic import security  # noqa: F401  (connects the sign-in lockout signals)


class PracticeAdminConfig(AdminConfig):
    """The Django admin, with a site that lets clinic administrators in by membership."""

    default_site = "clinic.admin_site.PracticeAdminSite"
