"""Notifications: the outbox, the personal feed and its live stream, e-mail, and the delivery
engine for webhooks and e-mail, with the scan that runs every detector."""
