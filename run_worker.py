"""Start the Temporal worker (TestWorkflow on the configured task queue).

The same as `sbs-worker`; the code is `app.entrypoints.worker`.
"""

from app.entrypoints import worker

if __name__ == "__main__":
    worker()
