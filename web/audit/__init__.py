"""The auditor's view: the community's processes, votes and checkpoints, each instance's diagram with the path it took as
of any event, its hash-chained timeline, audit bundles to download, and verification with one button."""
