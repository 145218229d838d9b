"""Handout e-mails become requests with a status: the request writes the row, the task sends
it and stamps `sent_at`, the sweeper sends requests whose message was lost. Rows written before
(all sent) are marked sent. The sweeper's beat schedule is created (editable in the admin)."""

import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from clinic.beat import schedules_install, schedules_remove

SCHEDULE = ("Send unsent home-programme e-mails", "programs.home_program_email_sweep", 10)


def mark_sent(apps, schema_editor):
    HomeProgramEmail = apps.get_model("programs", "HomeProgramEmail")
    HomeProgramEmail.objects.filter(sent_at__isnull=False).update(status="sent")


def create_schedule(apps, schema_editor):
    schedules_install(apps, [SCHEDULE])


def remove_schedule(apps, schema_editor):
    schedules_remove(apps, [SCHEDULE])


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0003_clinic_reminder_lead_hours"),
        ("programs", "0008_home_exercise_programmes"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="homeprogramemail",
            options={"ordering": ["-requested_at", "pk"], "verbose_name": "home programme e-mail"},
        ),
        migrations.AddField(
            model_name="homeprogramemail",
            name="reason",
            field=models.CharField(
                blank=True, help_text="Why it was not sent (no_consent, superseded).", max_length=40
            ),
        ),
        migrations.AddField(
            model_name="homeprogramemail",
            name="requested_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="homeprogramemail",
            name="status",
            field=models.CharField(
                choices=[("requested", "Requested"), ("sent", "Sent"), ("skipped", "Not sent")],
                default="requested",
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="homeprogramemail",
            name="sent_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(mark_sent, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="homeprogramemail",
            index=models.Index(
                fields=["status", "requested_at"], name="programs_homeemail_pending"
            ),
        ),
        migrations.AddConstraint(
            model_name="homeprogramemail",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("sent_at__isnull", False), ("status", "sent")),
                    models.Q(
                        models.Q(("status", "sent"), _negated=True), ("sent_at__isnull", True)
                    ),
                    _connector="OR",
                ),
                name="programs_homeprogramemail_sent_has_time",
            ),
        ),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
