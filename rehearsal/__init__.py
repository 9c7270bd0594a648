"""The production topology, rehearsed: many hosts as network namespaces on one Linux machine,
faults under load, and a checker that proves nothing acknowledged was lost."""
