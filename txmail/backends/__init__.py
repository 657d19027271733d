"""Mail backends shipped with txmail (``MAILERS[...]["BACKEND"]``)."""
