"""Doors in from other tools: recordings made with vcrpy / pytest-recording (vcrpy.py). Each turns
what the other tool wrote into what harness reads and says what it could not carry over, never
dropping it silently.
"""
