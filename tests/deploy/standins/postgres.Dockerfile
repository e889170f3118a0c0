# A stand-in for the compose file's `postgres:16` where no registry can be reached:
# Debian's PostgreSQL 15 with the official image's contract as compose uses it
# (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB; data in /var/lib/postgresql/data;
# uid 999; pg_isready). tests/deploy/test_compose.py builds it.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && usermod -u 999 postgres && groupmod -g 999 postgres \
    && install -d -o 999 -g 999 /var/lib/postgresql/data /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
USER 999:999
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
