from django.db import models


class Order(models.Model):
    email = models.EmailField()
    cancelled = models.BooleanField(default=False)

    class Meta:
        app_label = "schedapp"

    def __str__(self) -> str:
        return f"order {self.pk} ({'cancelled' if self.cancelled else 'open'})"
