"""Recipients for bulk-sending tests (no migrations: created with --run-syncdb)."""

from django.db import models


class Subscriber(models.Model):
    name = models.CharField(max_length=100)
    email = models.EmailField()
    language = models.CharField(max_length=10, default="en")
    opted_in = models.BooleanField(default=True)

    class Meta:
        app_label = "testapp"

    def __str__(self):
        return self.name


class Interest(models.Model):
    """A many-valued relation: filtering across it repeats a subscriber per match."""

    subscriber = models.ForeignKey(Subscriber, models.CASCADE, related_name="interests")
    name = models.CharField(max_length=50)

    class Meta:
        app_label = "testapp"

    def __str__(self):
        return self.name
