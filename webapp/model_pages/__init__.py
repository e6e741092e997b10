"""The models page (DESIGN.md §6): activation radios per (provider, capability) and
the model forms."""
