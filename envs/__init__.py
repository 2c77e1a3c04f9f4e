"""Environments: AlternatingCircuit and DO1 (functional JAX API and Gymnasium)."""
