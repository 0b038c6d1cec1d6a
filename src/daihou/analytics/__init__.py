"""Snapshots read back as KPIs, roll rates and cure rates."""
