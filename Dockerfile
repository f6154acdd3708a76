# syntax=docker/dockerfile:1
# The call center's application image: web (gunicorn), worker (`flask worker run`) and one-shot
# commands such as `flask db upgrade` all run from it. See docker-compose.yml.
FROM python:3.11-slim-bookworm

# ffmpeg: pydub decodes, splits and resamples recordings; espeak-ng: speech for IVR prompts.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg espeak-ng \
    && rm -rf /var/lib/apt/lists/*

# A writable home: gunicorn (>= 24) puts its control socket in ~/.gunicorn/.
RUN groupadd --system callcenter \
    && useradd --system --gid callcenter --create-home --home-dir /home/callcenter \
        --shell /usr/sbin/nologin callcenter

ENV FLASK_APP=callcenter \
    APP_ENV=production \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a source change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the source. The checkout stays in /app as well as being installed: `flask` and gunicorn
# put the working directory first on sys.path, so the app finds migrations/ next to the package.
COPY . .
RUN pip install --no-cache-dir . \
    && rm -rf build ./*.egg-info \
    && mkdir -p /data/recordings /data/store /app/instance \
    && chown -R callcenter:callcenter /data /app/instance

# The Vosk models (vosk-model-small-cn-0.22, vosk-model-small-en-us-0.15), fetched and checked
# against their pinned SHA-256 at build time: a worker never downloads anything at run time.
ENV MODELS_DIR=/opt/models
RUN python -c "from recordings.models import download_model; [download_model(lang, '/opt/models') for lang in ('zh', 'en')]"

USER callcenter

EXPOSE 8000

CMD ["gunicorn", "--worker-class", "gthread", "--workers", "2", "--threads", "8", \
     "--bind", "0.0.0.0:8000", "callcenter:create_app()"]
