"""`down`: remove everything the tool made, from its journal and by a sweep over its prefix.
Idempotent; safe after the tool itself was killed at any point of `up` or `chaos`."""

import shutil

from rehearsal import network, processes
from rehearsal.journal import Journal


def down(journal: Journal) -> list[str]:
    """Undo what the journal records and whatever carries the prefix; returns what was removed."""
    entries = list(journal.entries())
    removed: list[str] = []
    # Processes first: a namespace deleted under a live process lives on with it.
    namespaces = {e["name"] for e in entries if e["kind"] == "namespace"}
    namespaces |= set(network.our_namespaces())
    for namespace in sorted(namespaces):
        processes.kill_namespace(namespace)
    for entry in entries:
        if entry["kind"] == "pid":
            processes.kill_recorded(entry["pid"], entry["started"])
    existing = set(network.our_namespaces())
    for namespace in sorted(namespaces & existing):
        network.remove_namespace(namespace)
        removed.append(f"namespace {namespace}")
    links = {e["name"] for e in entries if e["kind"] in ("link", "bridge")}
    present = set(network.our_links())
    for link in sorted(links | present):
        if link in present:
            network.remove_link(link)
            removed.append(f"link {link}")
    if journal.directory.exists():
        shutil.rmtree(journal.directory, ignore_errors=True)
        removed.append(f"directory {journal.directory}")
    return removed
