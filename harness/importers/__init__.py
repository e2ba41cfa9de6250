"""Doors in from other tools: recordings made with vcrpy / pytest-recording (vcrpy.py), and
promptfoo configurations (promptfoo/). Each turns what the other tool wrote into what harness reads
(per-case cassettes, suites) and says what it could not carry over, never dropping it silently.
"""
