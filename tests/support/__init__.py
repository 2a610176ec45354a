"""Test support: how each backend's store is made, reset and described for the suite."""
