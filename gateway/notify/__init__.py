"""Email and text-message notifications: a catalogue of GOV.UK Notify-style templates, sent
through GOV.UK Notify in production and written to a local outbox in development.

Callers build a :class:`~gateway.notify.models.Notification` (channel, recipient, template
name, personalisation) and hand it to a :class:`~gateway.notify.services.Notifier`; the text
lives in ``templates.toml``, never in code. Notifications never carry message content
(DESIGN.md §4): a new-message notification names the sender and asks the person to sign in.
"""
