"""Customer messaging: templates, preferences, a durable outbox, a relay and its channels.

The flow is: a situation (running late, delivered...) picks a template; the template is
rendered in a sandbox from plain values; the result becomes an outbox row *before* anything is
sent; a relay claims due rows and hands them to a channel (SMTP, SMS gateway, MQTT to the
driver, or a capture file), with retries persisted on the row. Nothing here talks to a database
directly: the outbox is reached through the :class:`~dispatcher.messaging.outbox.OutboxStore`
protocol, which the persistence layer implements with SQLAlchemy.
"""
