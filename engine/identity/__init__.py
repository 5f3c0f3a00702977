"""Who may do what, and where: communities, members, roles and API tokens."""
