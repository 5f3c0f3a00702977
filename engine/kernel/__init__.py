"""The runtime every domain stands on: the command bus, units of work, the database, the clock, errors, instances with their
task index and timers, the history (events), stepping, replay, definitions, forms, preconditions and the registry of
service-task operations. It imports no domain: domains register what they add.
"""
