"""Preview every registered message in the browser, at ``/emails/``.

    # urls.py
    path("emails/", include("txmail.urls")),

**Preview methods.** A class opts in by defining classmethods named
``preview`` (variant ``default``) or ``preview_<variant>`` (variant name with
``_`` shown as ``-``: ``preview_gift_card`` → ``/emails/shop.Receipt/gift-card/``).
Each returns an instance built from *unsaved* sample objects::

    class Receipt(Message):
        @classmethod
        def preview(cls, items: str = "3"):
            order = Order(number="A-1001", total=Decimal("42.00"))  # not saved
            return cls(order=order, to=["buyer@example.com"])

URL query parameters are passed as string keyword arguments: only those the
method names, or all of them if it takes ``**kwargs`` (``?items=10``). ``lang``
is reserved for the language switch.

The factory and the whole render run inside ``transaction.atomic()`` on every
database, always rolled back: opening a preview never writes to the database,
even if a factory calls ``.save()``. Classes without preview methods are listed
with a note on how to add one.

**Language switch** (``?lang=fr``): rendering runs inside
``translation.override(code)``, and ``instance.language`` is set to the code
when the class keeps the base ``get_language()``. A class that overrides
``get_language()`` decides for itself; the page then says which language it used.

**Access.** ``TXMAIL["PREVIEW_ENABLED"]``: None (default) follows ``DEBUG``;
True enables the UI outside DEBUG too, for authenticated staff users only;
False turns it off everywhere. Everyone else gets a plain 404, which does not
reveal that the UI exists (log in through the admin first).
"""
