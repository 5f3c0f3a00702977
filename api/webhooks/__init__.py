"""Webhooks for integrators (a community's admins): endpoints, their secrets, their deliveries."""
