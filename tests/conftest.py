"""Shared test configuration: draw figures off-screen for the whole session."""

import matplotlib

matplotlib.use("Agg")
