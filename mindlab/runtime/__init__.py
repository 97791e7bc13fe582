"""Turning optimized graphs into executables: a linear kernel program per graph plus a small VM for control flow."""
