"""The environment of child processes coverage must not measure: third-party programs the tests
run (Ansible, checkov, check-jsonschema, mypy) and load generators.

`make coverage` measures coverage in every Python child process (`patch = ["subprocess"]` in
pyproject.toml): that is how the API, the worker and devstack are counted. A third-party tool runs
none of the platform's code, yet measured it is several times slower (ansible-lint --version:
1.5 s plain, 10 s measured); a process that pushes 100,000 requests through the middleware proves
that no access line is lost, and measured it took minutes instead of seconds. Their environment
leaves coverage's hook out.
"""

import os
from collections.abc import Mapping

# What coverage's subprocess patch and its .pth hook read in a child process.
COVERAGE_HOOKS = ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START")


def unmeasured_environment(variables: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with `variables`, without coverage's hook."""
    environment = {**os.environ, **(variables or {})}
    for hook in COVERAGE_HOOKS:
        environment.pop(hook, None)
    return environment
