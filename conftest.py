"""Fixtures shared by tests/ and features/ live in tests/fixtures.py."""

pytest_plugins = ["tests.fixtures", "tests.error_steps"]
