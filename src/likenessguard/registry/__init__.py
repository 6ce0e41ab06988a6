"""The protected-person registry: people who asked for protection, matched fuzzily."""

from likenessguard.registry.base import Registry, RegistryHit, Subject, subject_id

__all__ = ["Registry", "RegistryHit", "Subject", "subject_id"]
