"""Yishi's engine: BPMN runtime, persistence and the governance domain. Knows nothing of HTTP."""
