"""Container entry point of the API: wait for PostgreSQL, migrate under a lock, then serve.

`python entrypoint.py --migrate-only` migrates and exits (for a Job or a manual run). The same
as `sbs-api`; the code is `app.entrypoints.api`.
"""

from app.entrypoints import api

if __name__ == "__main__":
    api()
