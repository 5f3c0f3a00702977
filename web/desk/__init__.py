"""The committee's desk: the tasks of the member's roles, each completed through a form rendered from its JSON Schema; starting a process; in demo mode, the admin's demo clock."""
