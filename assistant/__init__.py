"""The application service: the session, the learning scheduler, voice, settings and benchmarks.

Nothing is opened, loaded or started at import time.
"""
