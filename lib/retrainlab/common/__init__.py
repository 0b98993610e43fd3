"""Small helpers every layer shares: names with "did you mean" and JSON-safe values."""
