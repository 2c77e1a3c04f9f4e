"""Agents and baseline policies."""
