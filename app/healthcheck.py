"""The image's HEALTHCHECK, for both of its roles: `python -m app.healthcheck`.

An API container answers on API_PORT (`/health/live`: the process serves). A worker container
has nothing there, so its check is the worker's `/health/ready` on WORKER_HEALTH_PORT: the
Temporal server has seen its pollers. Exit 0 when healthy, 1 otherwise, with the reason.
"""

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 4.0


def status(url: str) -> int:
    """The HTTP status, or 0 when nothing listens there; a silent server raises TimeoutError."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except urllib.error.URLError as error:
        if isinstance(error.reason, ConnectionRefusedError):
            return 0
        raise


def main() -> int:
    api = f"http://127.0.0.1:{os.environ.get('API_PORT', '8000')}/health/live"
    worker = f"http://127.0.0.1:{os.environ.get('WORKER_HEALTH_PORT', '8081')}/health/ready"
    try:
        for url in (api, worker):
            code = status(url)
            if code:
                print(f"{url}: {code}")
                return 0 if code == 200 else 1
    except (OSError, urllib.error.URLError) as error:
        print(f"no answer: {error}")
        return 1
    print("neither the API nor the worker is listening")
    return 1


if __name__ == "__main__":
    sys.exit(main())
