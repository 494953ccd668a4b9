"""Polydesk: a multilingual support-desk assistant over API documentation."""
