"""Capture on a live host: runs the stand-alone collector collectors/memsnap.py."""

from memreport.collect.runner import collector_path, run_collector

__all__ = ["collector_path", "run_collector"]
