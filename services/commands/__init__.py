"""CLI command modules; each exposes ``register(subparsers)`` (see services/cli.py)."""

from services.commands import demo, drift, estimate, leaderboard, profile, promotion, trigger

COMMAND_MODULES = (demo, drift, estimate, leaderboard, profile, promotion, trigger)
