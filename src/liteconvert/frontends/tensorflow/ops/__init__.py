"""Lowering rules, grouped by family. Each module registers its rules on import."""
