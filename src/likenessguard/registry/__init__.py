"""The protected-person registry: people who asked for protection, matched fuzzily."""
