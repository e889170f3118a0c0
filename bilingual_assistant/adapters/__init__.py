"""Third-party implementations of the library's interfaces, found together here.

| module | implements | talks to |
|---|---|---|
| `milvus_store.py` | `knowledge.store.KnowledgeStore` | Milvus Lite or a Milvus server |
| `redis_cache.py` | `answers.cache.AnswerCache` | Redis |
| `openai_chat.py` | `llm.chat.ChatModel` | any OpenAI-compatible endpoint |
| `open_meteo.py` | `weather.models.WeatherProvider` | Open-Meteo's HTTP API |

Each takes its settings section in its constructor; the processes' wiring modules
build them. The in-process implementations (LRU cache, embedders) sit beside
their interfaces.
"""
