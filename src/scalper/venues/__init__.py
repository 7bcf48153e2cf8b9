"""Venue adapters: each translates one exchange's wire format into our events."""
