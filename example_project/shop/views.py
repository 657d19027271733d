"""The example's only page of its own: a home page linking to everything else."""

from importlib.util import find_spec

from django.shortcuts import render

from txmail.registry import message_classes


def home(request):
    # Plain dicts: templates would call the classes instead of reading them.
    emails = [
        {
            "name": name,
            "doc": (cls.__doc__ or "").strip().partition("\n")[0],
            "mailer": cls.mailer or "default",
        }
        for name, cls in message_classes().items()
    ]
    return render(
        request,
        "shop/home.html",
        {"emails": emails, "previews_enabled": find_spec("txmail.urls") is not None},
    )
