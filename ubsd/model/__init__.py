"""The behavior-sequence transformer: config, encoder, heads, save/load."""
