"""Fixtures shared by tests/ and features/ live in tests/fixtures.py; the feature driver, and the steps
every feature shares, in tests/driver.py."""

pytest_plugins = ["tests.fixtures", "tests.driver"]
