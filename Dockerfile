# The newswatch service. Built by docker compose (see docker-compose.yml); config is mounted at /app/config.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# pyproject.toml + the packages, then one `pip install .` (no editable install, no tests in the image).
# gcc builds the optional C speed-ups (ingest/_speedups.c) and is removed in the same layer.
COPY pyproject.toml setup.py README.md ./
COPY ingest ./ingest
COPY index ./index
COPY alerts ./alerts
COPY newswatch ./newswatch
COPY config ./config
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /home/newswatch newswatch \
    && mkdir -p /data && chown newswatch /data

USER newswatch
ENV NEWSWATCH_CONFIG_DIR=/app/config \
    NEWSWATCH_SPOOL_DIR=/data/spool
EXPOSE 8080
CMD ["newswatch", "run"]
