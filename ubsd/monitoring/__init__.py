"""Drift and data-quality monitoring of the nightly outputs (jobs/monitor.py).

``run_monitor`` lives in :mod:`ubsd.monitoring.job`; PSI math in :mod:`ubsd.monitoring.psi`.
"""
