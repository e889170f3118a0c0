"""Weather lookups behind a provider interface (Open-Meteo in `assistant/adapters/`)."""
