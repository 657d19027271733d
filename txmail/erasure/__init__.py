"""Erasure: an address removed from every txmail table, its suppression kept as a hash.

``erase(address)`` (``erase.py``) deletes the delivery rows, events, campaign
recipient rows and stored bodies that name the address and turns its
suppression entries into keyed hashes (``suppression.erased``), so a bounced or
unsubscribed address stays suppressed. ``traces.py`` finds an address in any
column of any txmail table: erasure's last step, and a test helper.
"""
