# dianxiaoer (店小二): one image for the web server, the Celery worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DXE_VAR_DIR=/data/var \
    MEDIA_ROOT=/data/media \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files are collected (and compressed, with a manifest) into the image; WhiteNoise
# serves them. The key here is a throw-away: settings require one when DEBUG is off.
RUN SECRET_KEY=collectstatic-only DEBUG=0 DXE_VAR_DIR=/tmp/build-var python manage.py collectstatic --noinput \
    && rm -rf /tmp/build-var

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin dianxiaoer \
    && mkdir -p /data/media /data/var \
    && chown -R dianxiaoer:dianxiaoer /data
USER dianxiaoer

VOLUME ["/data/media"]
EXPOSE 8000

# A websocket frame over 1 MiB drops the connection (docs/ARCHITECTURE.md, "Websocket protocol").
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--websocket-max-message-size", "1048576", "--websocket-max-frame-size", "1048576", "dianxiaoer.asgi:application"]
