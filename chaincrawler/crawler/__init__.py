"""The indexing engine: block source, prevouts, reorg detection and the Crawler (pipeline)."""
