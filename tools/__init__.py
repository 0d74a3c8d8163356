"""Training and research scripts, run from the repository root (`python -m tools.train`);
not installed with the watcher. They read the labelled data in ../shared/data."""
