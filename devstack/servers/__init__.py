"""One module per server of the local stack: how it is found, prepared, started and probed.

Each module's `SERVICE` is its recipe; devstack.services lists them in start-up order.
"""
