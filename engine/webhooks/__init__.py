"""Webhooks: a community's admin subscribes an HTTPS endpoint to event types; every recorded event of those types
is written to an outbox in its command's own transaction (``outbox``), and ``yishi worker`` posts it, signed, with
retries (``delivery``). See docs/webhooks.md.

The package registers itself as a domain does: its tables on the one ``Base``, its command handlers (``handlers``),
and a listener of the ledger (``engine.audit.sealing.ledger.on_sealed``) that writes the outbox rows. The kernel
does not know it exists.
"""
