# The help line as one image: `helpline serve` (gunicorn) as an unprivileged user, on 0.0.0.0:$PORT.
# compose.yaml runs it with PostgreSQL and Redis; README.md, "Put it on a Twilio number in an hour".
# Everything the line reads ships in the repository: nothing is downloaded at build or run time
# except the Python packages pip installs here.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin helpline

# The package and its dependencies only: no test or training extras, no compiler (all wheels).
COPY pyproject.toml README.md /tmp/src/
COPY bot /tmp/src/bot
RUN pip install /tmp/src && rm -rf /tmp/src

# `pip install .` puts bot/ in site-packages, away from the flows and the data: say where they are.
# DATABASE_URL here is the fallback for a bare `docker run`; compose.yaml sets PostgreSQL.
WORKDIR /app
COPY flows /app/flows
COPY data /app/data
ENV HELPLINE_FLOWS_DIR=/app/flows \
    HELPLINE_DATA_DIR=/app/data \
    HELPLINE_INSTANCE_DIR=/app/instance \
    DATABASE_URL=sqlite:////app/instance/helpline.db \
    PORT=8000

RUN mkdir /app/instance && chown helpline:helpline /app/instance
USER helpline

# The towns and common-word tables, built now (from installed packages) so a start does not wait
# for them; this also refuses to build an image whose flows do not load.
RUN python -c "from bot import tables; tables.places(); tables.load_flows('/app/flows')"

EXPOSE 8000
# 200 when the line can serve; 503 (unhealthy) while it answers from its fallback directory.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]

# No --bind: 0.0.0.0:$PORT (8000 unless a platform host sets PORT). SIGTERM drains the workers.
CMD ["helpline", "serve"]
