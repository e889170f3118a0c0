"""The knowledge base: documents, chunks, embeddings, the store's interface,
ingestion and hybrid retrieval. Milvus itself is in `bilingual_assistant/adapters/`."""
