"""Consultation (征求意见): opinions submitted while a task collects them, and the committee's answers."""
