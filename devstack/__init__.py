"""The Docker-less local stack: every server as a plain background process on loopback.

`python -m devstack up|down|status|logs`; the tests start their own stack through the same code.
"""
