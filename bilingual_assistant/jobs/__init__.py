"""Background jobs: ingestion, re-indexing and retraining, run by a worker."""
