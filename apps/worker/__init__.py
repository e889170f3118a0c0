"""The job worker: runs ingestion and re-indexing jobs taken from the queue."""
