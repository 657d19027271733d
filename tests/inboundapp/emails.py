"""A message whose replies come back to the Comments mailbox, linked to it."""

from tests.inboundapp.mailboxes import Comments
from tests.testapp.emails import Hello


class Notice(Hello):
    reply_mailbox = Comments
