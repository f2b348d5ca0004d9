# The newswatch service. Built by docker compose (see docker-compose.yml); config is mounted at /app/config.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# pyproject.toml + the packages, then one `pip install .` (no editable install, no tests in the image).
COPY pyproject.toml README.md ./
COPY ingest ./ingest
COPY index ./index
COPY alerts ./alerts
COPY newswatch ./newswatch
COPY config ./config
RUN pip install . \
    && useradd --system --create-home --home-dir /home/newswatch newswatch \
    && mkdir -p /data && chown newswatch /data

USER newswatch
ENV NEWSWATCH_CONFIG_DIR=/app/config \
    NEWSWATCH_SPOOL_DIR=/data/spool
EXPOSE 8080
CMD ["newswatch", "run"]
