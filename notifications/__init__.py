"""Delivery of domain events as WeChat subscribe messages (the notifications capability).

Services record events in the transactional outbox (``backend/events``) inside the transaction of
the change that caused them; the relay and worker that deliver them, at most once per event and
without loss when Redis, the worker or WeChat fail for a while, belong here and arrive with the
notifications issue. Until then events wait, undelivered, in the ``outbox_events`` table.
"""
