"""The catalog: every artifact ever scanned, its verdict, matches and review state."""
