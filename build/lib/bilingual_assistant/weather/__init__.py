"""Weather lookups behind a provider interface (Open-Meteo in `bilingual_assistant/adapters/`)."""
