from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = "Patients and scheduling"

    def ready(self) -> None:
        from patients.booking_sql import install_after_migrate

        # The booking's PostgreSQL function follows the models: made again after every migrate.
        post_migrate.connect(install_after_migrate, sender=self)
