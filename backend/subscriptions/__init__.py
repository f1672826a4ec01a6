"""Subscribe-message consents, preferences and the record of every message delivery."""
