"""Mail that comes in: mailboxes, their routing and the ingresses that feed them."""
