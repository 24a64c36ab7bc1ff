"""Fault injection: many lifecycles while workers are killed, the server restarts and the database goes away.

``python -m chaos`` (``make chaos``) starts its own Temporal dev server and worker processes, drives records
through the client layer, injects the faults, then checks what a quality manager relies on and prints it.
"""
