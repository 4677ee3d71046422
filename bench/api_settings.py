"""Settings of the benchmark's server (bench/api.py): the product's, with the baselines' URLs in front
(bench/api_baselines.py). Loaded with ``DJANGO_SETTINGS_MODULE=api_settings`` and bench/ on ``PYTHONPATH``."""

from bazhou.settings import *  # noqa: F403

ROOT_URLCONF = "api_baselines"
