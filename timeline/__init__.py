"""Diplomatic timeline engine."""
