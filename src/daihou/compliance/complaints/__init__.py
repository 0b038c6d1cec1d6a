"""Complaints (投诉): intake, SLA timers on the Chinese working-day calendar, holds,
overdue alerts and the monthly analysis."""
