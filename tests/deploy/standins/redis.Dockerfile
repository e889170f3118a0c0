# A stand-in for the compose file's `redis:7.4` where no registry can be reached:
# Debian's Redis 7.0 with the official image's contract as compose uses it
# (redis-server and redis-cli on the PATH, data in /data, uid 999).
# tests/deploy/test_compose.py builds it.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server redis-tools \
    && rm -rf /var/lib/apt/lists/* \
    && usermod -u 999 redis && groupmod -g 999 redis \
    && install -d -o 999 -g 999 /data
WORKDIR /data
USER 999:999
EXPOSE 6379
CMD ["redis-server"]
