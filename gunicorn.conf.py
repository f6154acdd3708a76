"""Gunicorn reads this file from the working directory (the Docker image's /app, `make bench`)."""


def post_worker_init(worker):
    """Compile templates and open database connections before the worker takes requests."""
    from callcenter.web.warmup import warm_up

    warm_up(worker.wsgi)
