"""The landing page for every visitor, and a member's home: what needs them now."""
