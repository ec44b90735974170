"""Benchmarks for the help line: `python -m bench` prints one table (see bench/__main__.py).

Benchmarks are not tests: nothing here runs under pytest, and nothing in bot/ imports it.
"""
