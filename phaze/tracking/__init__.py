"""Result files (always, first) and experiment tracking (optional, after)."""
