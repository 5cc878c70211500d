"""Job contracts: how each step type's job is laid out, started and collected locally."""
