"""Feedback on replies, the review queue, and what it turns into."""
